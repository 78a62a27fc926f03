"""The ledger's claims: a claim on a set of files with an expiry, so two runs never deliver one file twice.

    claims/<owner>-<token>.json
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.ledger.storage import LedgerStorage
from airflow_braze_td.identities import owner_key

# Tries of a claim that a rival contested at the same moment (see `ClaimStore.claim_files`).
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    owner: str
    written: float
    expires: float
    identities: tuple[str, ...] = ()


class ClaimStore(LedgerStorage):
    """Claims written, listed and released; expired ones removed on the way."""

    def claim_files(self, files: list[StagedFile], owner: str, ttl: float) -> tuple[list[StagedFile], str | None]:
        """Claim files before working on them: the ones claimed, and the token that `release_claim` takes.

        Works on storage without conditional writes: write our claim, then list every claim; files that
        another owner claimed too are withdrawn from ours, so two owners can never both proceed. Two racing
        owners may both withdraw a file: two runs started together on the same plan do so bundle after
        bundle (seen with two overlapping scheduled runs on S3: 56 of 72 files left to the next run). So a
        contested claim is dropped whole and tried again after a random pause, up to `CLAIM_ATTEMPTS` times,
        by when one owner holds the files or the last attempt withdraws them (they wait for the next run).
        Retries of the same task share an owner, so a killed try's claims are taken over at once. One claim
        object covers all the files.
        """
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            held = self._held_elsewhere(owner)
            wanted = [staged for staged in files if staged.identity not in held]
            if not wanted:
                return [], None
            token = f"{owner_key(owner)}-{uuid.uuid4().hex[:16]}"
            now = time.time()
            self._write_claim(token, Claim(owner, now, now + ttl, tuple(staged.identity for staged in wanted)))
            held = self._held_elsewhere(owner)
            claimed = [staged for staged in wanted if staged.identity not in held]
            if len(claimed) == len(wanted):
                return claimed, token
            if attempt == CLAIM_ATTEMPTS and claimed:
                self._write_claim(token, Claim(owner, now, now + ttl, tuple(staged.identity for staged in claimed)))
                return claimed, token
            self.release_claim(token)
            if attempt < CLAIM_ATTEMPTS:
                time.sleep(random.uniform(0.1, 1.0) * attempt)
        return [], None

    def _write_claim(self, token: str, claim: Claim) -> None:
        self._write(self._path("claims", f"{token}.json"), orjson.dumps(claim))

    def _claims(self, skip_owner: str | None = None) -> Iterator[tuple[str, Claim]]:
        """Every claim object with its path (but `skip_owner`'s, known by name); expired ones are removed on the
        way."""
        now = time.time()
        skipped = f"{owner_key(skip_owner)}-" if skip_owner is not None else None
        for path in self._list("claims"):
            if skipped is not None and path.rsplit("/", 1)[1].startswith(skipped):
                continue
            data = self._read(path)
            if not data:
                continue
            record = orjson.loads(data)
            claim = Claim(**{**record, "identities": tuple(record["identities"])})
            if claim.expires <= now:
                self._remove(path)
                continue
            yield path, claim

    def _held_elsewhere(self, owner: str) -> set[str]:
        """Identities other owners claim; this owner's own claim objects are not even read."""
        return {identity for _, claim in self._claims(owner) if claim.owner != owner for identity in claim.identities}

    def release_claim(self, token: str | None) -> None:
        """Drop one claim object (from `claim_files`)."""
        if token:
            self._remove(self._path("claims", f"{token}.json"))
