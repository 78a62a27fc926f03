"""Braze Currents event types (schema version 10) and their Avro writer schemas, as plain Python data.

Field names, types, nullability and order were read off the Avro samples Braze publishes (one per event
type); the package never reads those files. The sample generator builds its files from these schemas, so
staged test data has the shapes the pipeline meets in production.

Spec grammar, one string per event type, fields in Braze's order:
- `name` has the type in `_DEFAULT_TYPES`, or is a nullable string when it is not listed there;
- `name:T` overrides that type for this event type only;
- `@group` expands to a run of fields that many event types share (`_GROUPS`).
Type codes: `s` string, `i` int, `l` long, `f` float, `b` boolean, `[T]` array of T; a trailing `?` makes
the type nullable (Avro union with null first, default null), as Braze writes optional fields.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

_AVRO_TYPES = {"s": "string", "i": "int", "l": "long", "f": "float", "b": "boolean"}

# Runs of fields that recur, in Braze's order, across many event types.
_GROUPS: dict[str, str] = {
    "message_head": "id user_id dispatch_id external_user_id time timezone",
    "newer_head": "app_group_id external_user_id id time user_id",
    "campaign": "campaign_id campaign_name message_variation_id message_variation_name",
    "canvas": "canvas_id canvas_name canvas_variation_id canvas_variation_name canvas_step_id canvas_step_name",
    "canvas_ids": "canvas_id canvas_variation_id canvas_step_id canvas_step_message_variation_id",
    "names": "campaign_name message_variation_name canvas_name canvas_variation_name canvas_step_name",
    "head": "id user_id external_user_id",
    "device": "platform os_version device_model",
    "ad": "ad_id ad_id_type ad_tracking_enabled",
    "demographics": "gender country timezone language",
    "sdk": "device_id sdk_version platform os_version device_model resolution carrier browser",
}

# Fields whose type is not a nullable string wherever they occur (unless a spec overrides it).
_DEFAULT_TYPES: dict[str, str] = {
    "action": "s", "ad_tracking_enabled": "b?", "agent_id": "s", "agent_name": "s", "alt_accuracy": "f?",
    "altitude": "f?", "archived": "b?", "attempt_count": "i?", "cache_hit": "b", "cache_tokens": "i",
    "canvas_entry_id": "s", "combination_token": "s", "completion_tokens": "i", "content_card_id": "s",
    "content_length": "i?", "content_optimizer_step_id": "s", "conversion_behavior_index": "i?",
    "currency": "s", "duration": "i", "email_address": "s", "from_phone_number": "s", "http_status_code": "i?",
    "id": "s", "in_control_group": "b", "inbound_phone_number": "s", "interaction_type": "s",
    "invocation_id": "s", "ios_push_token_apns_gateway": "i?", "is_amp": "b?", "is_canvas_entry": "b?",
    "is_drop": "b?", "is_error": "b", "is_sms_fallback": "b?", "is_suspected_bot_click": "b?",
    "is_terminal": "b?", "latitude": "f", "line_channel_id": "s", "line_channel_name": "s", "ll_accuracy": "f?",
    "llm_owned_by_customer": "b", "longitude": "f", "media_urls": "[s?]?", "model_name": "s",
    "model_provider": "s", "name": "s", "native_line_id": "s", "orphaned_by_id": "s",
    "prev_random_bucket_number": "i?", "price": "f", "product_id": "s", "progression_type": "s",
    "prompt_tokens": "i", "properties": "s", "provider_error_title": "s", "push_token_created_at": "i?",
    "push_token_foreground_push_disabled": "b?", "push_token_provisionally_opted_in": "b?",
    "push_token_updated_at": "i?", "random_bucket_number": "i", "reasoning_tokens": "i", "request_id": "s",
    "retry_count": "i?", "session_id": "s", "short_url": "s", "source": "s", "subscription_status": "s",
    "suspected_bot_click_reason": "[s]?", "time": "i", "time_ms": "l?", "to_rcs_sender": "s",
    "tool_arguments": "s", "tool_call_id": "s", "tool_name": "s", "total_tokens": "i", "update_source": "s",
    "url": "s", "user_id": "s", "version": "s", "webhook_duration": "i?",
}

_SPECS: dict[str, str] = {
    "agentconsole.AgentExecuted": (
        "id invocation_id request_id duration prompt_tokens completion_tokens total_tokens cache_tokens "
        "reasoning_tokens time:l agent_id agent_name model_provider model_name provider_request_id cache_hit "
        "llm_owned_by_customer is_error canvas_name canvas_variation_name canvas_step_name canvas_id "
        "canvas_variation_id canvas_step_id user_id:s? external_user_id input output invocation_source error"
    ),
    "agentconsole.ToolInvocation": (
        "id tool_call_id duration time:l agent_id agent_name is_error tool_name tool_arguments invocation_source "
        "request_id:s?"
    ),
    "users.RandomBucketNumberUpdate": (
        "id app_group_id user_id external_user_id time random_bucket_number prev_random_bucket_number"
    ),
    "users.UserDeleteRequest": "id user_id app_group_id time",
    "users.UserOrphan": "@head device_id app_group_id app_id time orphaned_by_id",
    "users.behaviors.CustomEvent": "@head app_id time timezone @device device_id name properties @ad app_group_id",
    "users.behaviors.InstallAttribution": "@head time source app_group_id",
    "users.behaviors.Location": (
        "@head app_id:s time latitude longitude altitude ll_accuracy alt_accuracy @device device_id @ad "
        "app_group_id"
    ),
    "users.behaviors.Purchase": (
        "@head app_id time @device device_id product_id price currency properties @ad app_group_id"
    ),
    "users.behaviors.Uninstall": "@head device_id app_id:s time app_group_id",
    "users.behaviors.app.FirstSession": (
        "@head app_id:s time session_id @demographics device_id sdk_version @device app_group_id"
    ),
    "users.behaviors.app.SessionEnd": "@head app_id:s time duration:f? session_id @device device_id app_group_id",
    "users.behaviors.app.SessionStart": "@head app_id:s time session_id @device device_id app_group_id",
    "users.behaviors.liveactivity.PushToStartTokenChange": (
        "@head time activity_attributes_type push_to_start_token device_id sdk_version "
        "ios_push_token_apns_gateway push_token_state_change_type app_group_id app_id"
    ),
    "users.behaviors.liveactivity.UpdateTokenChange": (
        "@head time activity_id update_token device_id sdk_version ios_push_token_apns_gateway "
        "push_token_state_change_type app_group_id app_id"
    ),
    "users.behaviors.pushnotification.TokenStateChange": (
        "id time app_id time_ms user_id platform push_token sdk_version app_group_id external_user_id "
        "push_token_device_id push_token_created_at push_token_updated_at web_push_token_user_auth "
        "web_push_token_public_key ios_push_token_apns_gateway push_token_state_change_type "
        "web_push_token_vapid_public_key push_token_provisionally_opted_in push_token_foreground_push_disabled"
    ),
    "users.behaviors.subscription.GlobalStateChange": (
        "@head email_address:s? state_change_source subscription_status channel time timezone app_group_id app_id "
        "campaign_id campaign_name message_variation_id @canvas send_id channel_identifier"
    ),
    "users.behaviors.subscriptiongroup.StateChange": (
        "@head email_address:s? phone_number app_id @campaign @canvas subscription_group_id:s subscription_status "
        "channel time timezone send_id state_change_source app_group_id dispatch_id channel_identifier"
    ),
    "users.campaigns.Conversion": (
        "@head app_id time timezone campaign_id:s campaign_name message_variation_id message_variation_name "
        "send_id conversion_behavior_index conversion_behavior app_group_id"
    ),
    "users.campaigns.EnrollInControl": (
        "@head app_id time timezone campaign_id:s campaign_name message_variation_id message_variation_name "
        "send_id app_group_id"
    ),
    "users.canvas.Conversion": (
        "@head app_id time timezone canvas_id:s canvas_name canvas_variation_id:s canvas_variation_name "
        "canvas_step_id canvas_step_name conversion_behavior_index conversion_behavior app_group_id"
    ),
    "users.canvas.Entry": (
        "@head time timezone canvas_id:s canvas_name canvas_variation_id:s canvas_variation_name canvas_step_id "
        "canvas_step_name in_control_group app_group_id"
    ),
    "users.canvas.costep.Send": (
        "@newer_head dispatch_id channel canvas_variation_id content_optimizer_step_id combination_token"
    ),
    "users.canvas.exit.MatchedAudience": (
        "@head app_group_id:s app_group_api_id time canvas_id:s canvas_variation_id:s canvas_step_id canvas_name "
        "canvas_variation_name canvas_step_name canvas_api_id canvas_variation_api_id canvas_step_api_id"
    ),
    "users.canvas.exit.PerformedEvent": (
        "@head app_group_id:s app_group_api_id time canvas_id:s canvas_variation_id:s canvas_step_id canvas_name "
        "canvas_variation_name canvas_step_name canvas_api_id canvas_variation_api_id canvas_step_api_id"
    ),
    "users.canvas.experimentstep.Conversion": (
        "@head app_id time @canvas experiment_step_id experiment_split_id experiment_split_name "
        "conversion_behavior_index conversion_behavior"
    ),
    "users.canvas.experimentstep.SplitEntry": (
        "@head time canvas_id canvas_name canvas_variation_id canvas_variation_name experiment_step_id "
        "canvas_step_id canvas_step_name experiment_split_id experiment_split_name in_control_group"
    ),
    "users.canvasstep.Progression": (
        "@head device_id app_group_id time canvas_id canvas_variation_id canvas_step_id progression_type "
        "is_canvas_entry exit_reason canvas_entry_id next_step_id canvas_name canvas_variation_name "
        "canvas_step_name"
    ),
    "users.messages.banner.Abort": (
        "@head app_group_id time app_id campaign_id message_variation_id @demographics @sdk @ad abort_type "
        "abort_log banner_placement_id campaign_name message_variation_name canvas_name canvas_step_name "
        "canvas_variation_name canvas_id canvas_step_id canvas_step_message_variation_id canvas_variation_id"
    ),
    "users.messages.banner.Click": (
        "@head app_group_id time app_id campaign_id message_variation_id @demographics @sdk button_id @ad "
        "banner_placement_id campaign_name message_variation_name canvas_id canvas_step_id canvas_name "
        "canvas_step_name canvas_step_message_variation_id canvas_variation_id canvas_variation_name"
    ),
    "users.messages.banner.Dismiss": (
        "@newer_head app_id campaign_id message_variation_id @demographics @sdk button_id ad_id_type "
        "ad_tracking_enabled banner_placement_id campaign_name message_variation_name canvas_id canvas_step_id "
        "canvas_name canvas_step_name canvas_step_message_variation_id canvas_variation_id canvas_variation_name "
        "ad_id"
    ),
    "users.messages.banner.Impression": (
        "@head app_group_id time app_id campaign_id message_variation_id @demographics @sdk @ad "
        "banner_placement_id campaign_name message_variation_name canvas_id canvas_step_id canvas_name "
        "canvas_step_name canvas_step_message_variation_id canvas_variation_id canvas_variation_name"
    ),
    "users.messages.contentcard.Abort": (
        "abort_log abort_type app_group_id campaign_id campaign_name canvas_id canvas_name canvas_step_id "
        "canvas_step_message_variation_id canvas_step_name canvas_variation_id canvas_variation_name device_id "
        "dispatch_id external_user_id id message_variation_id message_variation_name send_id time timezone "
        "user_id"
    ),
    "users.messages.contentcard.Click": (
        "@head content_card_id time app_id:s send_id @campaign canvas_id canvas_variation_id canvas_step_id "
        "canvas_variation_name canvas_step_name canvas_name timezone device_id @device @ad app_group_id"
    ),
    "users.messages.contentcard.Dismiss": (
        "@head content_card_id time app_id:s send_id @campaign canvas_id canvas_variation_id "
        "canvas_variation_name canvas_step_id canvas_step_name canvas_name timezone device_id @device @ad "
        "app_group_id"
    ),
    "users.messages.contentcard.Impression": (
        "@head content_card_id time app_id:s send_id @campaign canvas_id canvas_variation_id "
        "canvas_variation_name canvas_step_id canvas_step_name canvas_name timezone device_id @device @ad "
        "app_group_id"
    ),
    "users.messages.contentcard.Send": (
        "@head content_card_id time send_id @campaign canvas_id canvas_variation_id canvas_variation_name "
        "canvas_step_id canvas_step_name canvas_name timezone device_id message_extras app_group_id"
    ),
    "users.messages.email.Abort": (
        "abort_log abort_type app_group_id campaign_id campaign_name canvas_id canvas_name canvas_step_id "
        "canvas_step_message_variation_id canvas_step_name canvas_variation_id canvas_variation_name device_id "
        "dispatch_id email_address external_user_id id ip_pool message_variation_id message_variation_name "
        "send_id time timezone user_id"
    ),
    "users.messages.email.Bounce": (
        "@message_head @campaign email_address @canvas send_id sending_ip ip_pool bounce_reason esp from_domain "
        "is_drop app_group_id"
    ),
    "users.messages.email.Click": (
        "@message_head @campaign email_address url:s? @canvas send_id user_agent ip_pool link_id link_alias esp "
        "from_domain is_amp app_group_id device_class device_os device_model browser mailbox_provider "
        "is_suspected_bot_click suspected_bot_click_reason"
    ),
    "users.messages.email.Deferral": (
        "id time user_id external_user_id app_group_id send_id campaign_id message_variation_id @canvas_ids "
        "dispatch_id email_address recipient_domain esp from_domain ip_pool sending_ip timezone deferral_reason "
        "attempt_count @names"
    ),
    "users.messages.email.Delivery": (
        "@message_head @campaign email_address @canvas send_id sending_ip ip_pool esp from_domain app_group_id"
    ),
    "users.messages.email.MarkAsSpam": (
        "@message_head @campaign email_address @canvas send_id user_agent ip_pool esp from_domain app_group_id"
    ),
    "users.messages.email.Open": (
        "@message_head @campaign email_address @canvas send_id user_agent ip_pool machine_open esp from_domain "
        "is_amp app_group_id device_class device_os device_model browser mailbox_provider"
    ),
    "users.messages.email.Retry": (
        "@newer_head retry_type retry_log send_id dispatch_id campaign_id message_variation_id @canvas_ids "
        "@demographics email_address ip_pool @names device_id"
    ),
    "users.messages.email.Send": (
        "@message_head @campaign email_address @canvas send_id ip_pool message_extras app_group_id from_domain"
    ),
    "users.messages.email.SoftBounce": (
        "@message_head @campaign email_address @canvas send_id sending_ip ip_pool bounce_reason esp from_domain "
        "app_group_id"
    ),
    "users.messages.email.Unsubscribe": "@message_head @campaign email_address @canvas send_id ip_pool app_group_id",
    "users.messages.featureflag.Impression": (
        "id app_id app_group_id campaign_id canvas_id canvas_step_id canvas_step_message_variation_id "
        "canvas_variation_id feature_flag_id_name message_variation_id external_user_id device_id time gender "
        "browser carrier country device_model language os_version platform resolution sdk_version timezone "
        "user_id campaign_name canvas_name canvas_step_name canvas_variation_name message_variation_name"
    ),
    "users.messages.inappmessage.Abort": (
        "abort_log abort_type @ad app_group_id app_id browser campaign_id campaign_name canvas_id canvas_name "
        "canvas_step_id canvas_step_message_variation_id canvas_step_name canvas_variation_id "
        "canvas_variation_name card_id carrier device_id device_model dispatch_id external_user_id id "
        "message_variation_id message_variation_name os_version platform resolution send_id time timezone user_id "
        "version"
    ),
    "users.messages.inappmessage.Click": (
        "@head app_id:s time timezone @campaign @canvas card_id @device button_id send_id device_id @ad "
        "app_group_id"
    ),
    "users.messages.inappmessage.Impression": (
        "@head time timezone app_id:s @campaign @canvas card_id @device send_id device_id @ad app_group_id "
        "message_extras locale_key"
    ),
    "users.messages.line.Abort": (
        "@newer_head abort_log abort_type campaign_id canvas_step_id canvas_step_message_variation_id device_id "
        "dispatch_id line_channel_id line_channel_name message_variation_id native_line_id send_id "
        "subscription_group_id timezone campaign_name canvas_step_name canvas_variation_id canvas_id"
    ),
    "users.messages.line.Click": (
        "@newer_head timezone native_line_id line_channel_id line_channel_name subscription_group_id campaign_id "
        "campaign_name message_variation_id @canvas_ids canvas_step_name dispatch_id device_id send_id "
        "is_suspected_bot_click short_url url user_agent"
    ),
    "users.messages.line.InboundReceive": (
        "@newer_head campaign_id campaign_name canvas_id canvas_step_id canvas_step_message_variation_id "
        "canvas_step_name canvas_variation_id device_id dispatch_id line_channel_id line_channel_name media_id "
        "message_body message_variation_id native_line_id send_id subscription_group_id timezone"
    ),
    "users.messages.line.Retry": (
        "@newer_head retry_log retry_type campaign_id canvas_step_id canvas_step_message_variation_id device_id "
        "dispatch_id line_channel_id:s? line_channel_name:s? message_variation_id native_line_id:s? send_id "
        "subscription_group_id timezone campaign_name canvas_step_name canvas_variation_id canvas_id"
    ),
    "users.messages.line.Send": (
        "@newer_head campaign_id campaign_name canvas_id canvas_step_id canvas_step_message_variation_id "
        "canvas_step_name canvas_variation_id device_id dispatch_id line_channel_id line_channel_name "
        "message_extras message_variation_id native_line_id send_id subscription_group_id timezone"
    ),
    "users.messages.liveactivity.Outcome": (
        "@head time activity_id activity_attributes_type push_to_start_token update_token "
        "live_activity_event_type live_activity_event_outcome app_group_id app_id"
    ),
    "users.messages.liveactivity.Send": (
        "@head time activity_id activity_attributes_type push_to_start_token update_token "
        "live_activity_event_type app_group_id app_id"
    ),
    "users.messages.pushnotification.Abort": (
        "abort_log abort_type app_group_id app_id campaign_id campaign_name canvas_id canvas_name canvas_step_id "
        "canvas_step_message_variation_id canvas_step_name canvas_variation_id canvas_variation_name device_id "
        "dispatch_id external_user_id id message_variation_id message_variation_name platform:s send_id time "
        "timezone user_id"
    ),
    "users.messages.pushnotification.Bounce": (
        "@head app_id:s time timezone platform @campaign @canvas send_id dispatch_id device_id @ad push_token "
        "app_group_id"
    ),
    "users.messages.pushnotification.IosForeground": (
        "@head app_id:s time timezone platform:s @campaign @canvas send_id dispatch_id device_id @ad app_group_id"
    ),
    "users.messages.pushnotification.Open": (
        "@head time timezone app_id:s @campaign @canvas canvas_step_message_variation_id @device send_id "
        "dispatch_id device_id button_action_type button_string @ad app_group_id"
    ),
    "users.messages.pushnotification.Retry": (
        "@newer_head device_id app_id dispatch_id send_id campaign_id message_variation_id @canvas_ids "
        "@demographics platform:s retry_type retry_log @names"
    ),
    "users.messages.pushnotification.Send": (
        "@head app_id:s time timezone platform:s @campaign @canvas send_id dispatch_id device_id @ad "
        "message_extras push_token app_group_id locale_key"
    ),
    "users.messages.rcs.Abort": (
        "@newer_head abort_log abort_type campaign_name canvas_name canvas_step_name canvas_variation_name "
        "message_variation_name subscription_group_id message_variation_id canvas_variation_id canvas_step_id "
        "canvas_step_message_variation_id campaign_id canvas_id"
    ),
    "users.messages.rcs.Click": (
        "@newer_head campaign_name canvas_name canvas_step_name device_id is_suspected_bot_click "
        "message_variation_name send_id short_url:s? suspected_bot_click_reason user_agent user_phone_number "
        "message_variation_id canvas_variation_id canvas_step_id canvas_step_message_variation_id "
        "interaction_type element_label element_type campaign_id url:s? subscription_group_id "
        "canvas_variation_name canvas_id"
    ),
    "users.messages.rcs.Delivery": (
        "@newer_head campaign_name canvas_name canvas_step_name canvas_variation_name device_id dispatch_id "
        "message_variation_name send_id subscription_group_id to_phone_number:s message_variation_id "
        "canvas_variation_id canvas_step_id canvas_step_message_variation_id campaign_id from_rcs_sender "
        "canvas_id"
    ),
    "users.messages.rcs.InboundReceive": (
        "app_group_id external_user_id id time user_id:s? action campaign_name canvas_name canvas_step_name "
        "media_urls message_variation_name send_id user_phone_number:s subscription_group_id message_body:s "
        "to_rcs_sender message_variation_id canvas_step_id canvas_variation_id canvas_step_message_variation_id "
        "campaign_id canvas_variation_name canvas_id"
    ),
    "users.messages.rcs.Read": (
        "@newer_head campaign_name canvas_name canvas_step_name canvas_variation_name message_variation_name "
        "to_phone_number:s message_variation_id canvas_variation_id canvas_step_id "
        "canvas_step_message_variation_id campaign_id canvas_id"
    ),
    "users.messages.rcs.Rejection": (
        "@newer_head campaign_name canvas_name canvas_step_name canvas_variation_name device_id dispatch_id error "
        "from_rcs_sender is_sms_fallback message_variation_name provider_error_code send_id subscription_group_id "
        "message_variation_id canvas_variation_id canvas_step_id to_phone_number:s campaign_id "
        "canvas_step_message_variation_id canvas_id"
    ),
    "users.messages.rcs.Send": (
        "@newer_head campaign_name canvas_name canvas_step_name canvas_variation_name category device_id "
        "dispatch_id from_rcs_sender message_extras message_variation_name send_id subscription_group_id "
        "to_phone_number:s message_variation_id canvas_variation_id canvas_step_message_variation_id "
        "canvas_step_id campaign_id canvas_id"
    ),
    "users.messages.sms.Abort": (
        "abort_log abort_type app_group_id campaign_id campaign_name canvas_id canvas_name canvas_step_id "
        "canvas_step_message_variation_id canvas_step_name canvas_variation_id canvas_variation_name "
        "external_user_id id message_variation_id message_variation_name subscription_group_id time user_id"
    ),
    "users.messages.sms.CarrierSend": (
        "@message_head @campaign to_phone_number subscription_group_id from_phone_number:s? @canvas send_id "
        "app_group_id"
    ),
    "users.messages.sms.Delivery": (
        "@message_head @campaign to_phone_number subscription_group_id from_phone_number:s? @canvas send_id "
        "app_group_id is_sms_fallback"
    ),
    "users.messages.sms.DeliveryFailure": (
        "@message_head @campaign to_phone_number subscription_group_id error provider_error_code @canvas send_id "
        "app_group_id is_sms_fallback"
    ),
    "users.messages.sms.InboundReceive": (
        "id user_id:s? external_user_id app_group_id:s time user_phone_number:s subscription_group_id "
        "inbound_phone_number action message_body:s media_urls @campaign @canvas"
    ),
    "users.messages.sms.Rejection": (
        "@message_head @campaign to_phone_number subscription_group_id from_phone_number:s? error "
        "provider_error_code @canvas send_id app_group_id is_sms_fallback"
    ),
    "users.messages.sms.Retry": (
        "@newer_head campaign_id message_variation_id @canvas_ids subscription_group_id retry_type retry_log "
        "@names"
    ),
    "users.messages.sms.Send": (
        "@message_head @campaign to_phone_number subscription_group_id @canvas send_id category message_extras "
        "app_group_id"
    ),
    "users.messages.sms.ShortLinkClick": (
        "@head app_group_id time timezone @campaign @canvas url short_url user_agent user_phone_number "
        "is_suspected_bot_click suspected_bot_click_reason"
    ),
    "users.messages.webhook.Abort": (
        "abort_log abort_type app_group_id campaign_id campaign_name canvas_id canvas_name canvas_step_id "
        "canvas_step_message_variation_id canvas_step_name canvas_variation_id canvas_variation_name device_id "
        "dispatch_id external_user_id id message_variation_id message_variation_name send_id time timezone "
        "user_id"
    ),
    "users.messages.webhook.Failure": (
        "http_status_code endpoint_url app_group_id campaign_id canvas_id canvas_step_id "
        "canvas_step_message_variation_id canvas_variation_id content_length dispatch_id external_user_id host id "
        "message_variation_id raw_response retry_count send_id time url_path user_id webhook_duration "
        "webhook_failure_source is_terminal campaign_name canvas_name canvas_step_name canvas_variation_name "
        "message_variation_name"
    ),
    "users.messages.webhook.Retry": (
        "@newer_head device_id dispatch_id send_id campaign_id message_variation_id @canvas_ids @demographics "
        "retry_type retry_log @names"
    ),
    "users.messages.webhook.Send": (
        "@head time timezone @campaign @canvas send_id message_extras app_group_id dispatch_id"
    ),
    "users.messages.whatsapp.Abort": (
        "id time:l to_phone_number user_id external_user_id device_id timezone app_group_id subscription_group_id "
        "@campaign @canvas canvas_step_message_variation_id dispatch_id abort_type abort_log bsuid"
    ),
    "users.messages.whatsapp.Click": (
        "@head device_id app_group_id time timezone campaign_id message_variation_id @canvas_ids url short_url "
        "user_agent user_phone_number @names"
    ),
    "users.messages.whatsapp.Delivery": (
        "id time:l to_phone_number user_id external_user_id device_id timezone from_phone_number app_group_id "
        "subscription_group_id @campaign @canvas canvas_step_message_variation_id dispatch_id send_id flow_id "
        "template_name message_id bsuid"
    ),
    "users.messages.whatsapp.Failure": (
        "id time:l to_phone_number user_id external_user_id device_id timezone from_phone_number app_group_id "
        "subscription_group_id @campaign @canvas canvas_step_message_variation_id dispatch_id "
        "provider_error_code:s provider_error_title send_id message_id template_name flow_id bsuid"
    ),
    "users.messages.whatsapp.InboundReceive": (
        "id time:l user_phone_number user_id:s? external_user_id inbound_phone_number device_id timezone "
        "app_group_id subscription_group_id @campaign @canvas canvas_step_message_variation_id message_body "
        "quick_reply_text media_urls action catalog_id product_id:s? flow_id flow_response_json message_id "
        "in_reply_to bsuid"
    ),
    "users.messages.whatsapp.Read": (
        "id time:l to_phone_number user_id external_user_id device_id timezone from_phone_number app_group_id "
        "subscription_group_id @campaign @canvas canvas_step_message_variation_id dispatch_id send_id "
        "template_name message_id flow_id bsuid"
    ),
    "users.messages.whatsapp.Retry": (
        "@newer_head to_phone_number device_id timezone subscription_group_id campaign_id message_variation_id "
        "@canvas_ids dispatch_id retry_type retry_log @names bsuid"
    ),
    "users.messages.whatsapp.Send": (
        "id time:l to_phone_number user_id external_user_id device_id timezone from_phone_number app_group_id "
        "subscription_group_id @campaign canvas_id canvas_name canvas_variation_id canvas_step_id "
        "canvas_step_name canvas_step_message_variation_id dispatch_id message_extras send_id flow_id "
        "template_name message_id bsuid"
    ),
    "users.profile.Update": (
        "app_group_id external_user_id id time time_ms:l user_id app_id update_source archived first_name "
        "last_name email_address:s? gender phone_number dob timezone home_city country language custom_attributes"
    ),
}

EVENT_TYPES: tuple[str, ...] = tuple(_SPECS)


class Field(NamedTuple):
    """One field of an event type: its name and its type code (see the module docstring)."""

    name: str
    code: str

    @property
    def nullable(self) -> bool:
        return self.code.endswith("?")

    @property
    def avro_type(self) -> str | list | dict:
        """A fresh Avro type, so callers may keep or change it."""
        return _avro_type(self.code)


def _avro_type(code: str) -> str | list | dict:
    if code.endswith("?"):
        return ["null", _avro_type(code[:-1])]
    if code.startswith("[") and code.endswith("]"):
        return {"type": "array", "items": _avro_type(code[1:-1])}
    return _AVRO_TYPES[code]


def _field(name: str, code: str = "") -> Field:
    return Field(name, code or _DEFAULT_TYPES.get(name, "s?"))


@cache
def fields(event_type: str) -> tuple[Field, ...]:
    """The fields of `event_type` in Braze's order; KeyError for a type the catalog does not know."""
    try:
        spec = _SPECS[event_type]
    except KeyError:
        raise KeyError(f"unknown Braze Currents event type {event_type!r}") from None
    out: list[Field] = []
    for token in spec.split():
        if token.startswith("@"):
            out.extend(_field(name) for name in _GROUPS[token[1:]].split())
        else:
            name, _, code = token.partition(":")
            out.append(_field(name, code))
    return tuple(out)


def avro_schema(event_type: str) -> dict:
    """A fresh Avro record schema for `event_type`, named like Braze's (`dataexport.S3.inner.<type>`)."""
    record_fields: list[dict] = []
    for field in fields(event_type):
        entry: dict = {"name": field.name, "type": field.avro_type}
        if field.nullable:
            entry["default"] = None
        record_fields.append(entry)
    return {"type": "record", "name": f"dataexport.S3.inner.{event_type}", "fields": record_fields}
