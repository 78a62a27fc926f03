"""The "Braze → TD" lag page: an Airflow 3.1+ UI plugin over the one delivery status (`delivery.status`).

Its addresses are here, importing nothing, for the sensor's link (computed in the worker) as for the plugin.
"""

URL_PREFIX = "/braze-td"  # the API server serves the page here
PAGE_ROUTE = "braze-td"  # and the UI embeds it at /plugin/braze-td
