"""`sshare -a -P -n -o SSHARE_FORMAT` read into the fair-share state of a site's associations:
each one's decayed raw usage and normalised shares, so that a replay's fair-share starts
from who has used the machine instead of from zero.

The same columns print on 22.05, 24.11 and 26.05: an account row (no user) and a user row
per association, the account indented by its depth in the tree, usage a whole number.
Under priority/basic (no fair-share) NormShares prints empty and usage stays 0; with
`--clusters` a `CLUSTER: name` line comes first. A pure function of the text, tested on
recorded output (tests/hpc/slurm/data/sshare-*.txt).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hpc.site.model import Association
from hpc.slurm.errors import SlurmDataError

SSHARE_FORMAT = "Account,User,RawShares,NormShares,RawUsage"

Key = tuple[str, str | None]  # (account, user); user None for the account's own row


@dataclasses.dataclass(frozen=True, slots=True)
class ShareRow:
    """One association as sshare prints it."""

    account: str
    user: str | None
    norm_shares: float | None  # None: printed empty (priority/basic)
    raw_usage: float


def parse_sshare(text: str) -> dict[Key, ShareRow]:
    """`sshare -a -P -n -o SSHARE_FORMAT` -> its rows by (account, user)."""
    rows: dict[Key, ShareRow] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("CLUSTER:"):
            continue
        fields = line.split("|")
        if len(fields) != SSHARE_FORMAT.count(",") + 1:
            raise SlurmDataError(f"sshare printed {line!r}, not the columns {SSHARE_FORMAT}")
        account, user, _raw_shares, norm, usage = (f.strip() for f in fields)
        row = ShareRow(account, user or None, _number(norm, line), _number(usage, line) or 0.0)
        rows[row.account, row.user] = row
    return rows


def _number(text: str, line: str) -> float | None:
    if text in ("", "N/A"):
        return None
    try:
        return float(text)
    except ValueError:
        raise SlurmDataError(f"sshare printed {text!r} in {line!r}, not a number") from None


def with_usage(
    associations: tuple[Association, ...], rows: Mapping[Key, ShareRow]
) -> tuple[Association, ...]:
    """The associations with sshare's usage and normalised shares where it lists them."""
    out = []
    for a in associations:
        row = rows.get((a.account, a.user))
        if row is not None:
            a = dataclasses.replace(a, raw_usage=row.raw_usage, norm_shares=row.norm_shares)
        out.append(a)
    return tuple(out)
