"""Where a site replay's fair-share starts: the usage the site's associations had when the
site was read (sshare's RawUsage), so that a what-if replay of the live queue knows who has
used the machine. A site read without sshare, or stored before it was read, starts at zero.

Usage is kept per user of the workload (its `JobTable.user` ids). Where the workload names
its users (`SiteDemand.users`), each gets the usage of its associations. Where it does not
(an SWF trace keeps numbers only), each account's usage is split evenly among the users
that submit under it. Usage of associations no job of the workload belongs to still counts
in the total every user's share of usage is measured against, as in Slurm.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from hpc.model import IntArray
from hpc.site.model import Site


@dataclass(frozen=True, slots=True)
class StartingUsage:
    """Core-seconds (decayed, as Slurm keeps them) at the replay's start."""

    per_user: dict[int, float]  # JobTable user id -> usage
    others: float  # usage of associations no job of the workload belongs to


def starting_usage(
    site: Site,
    user: IntArray,
    account: IntArray,
    accounts: tuple[str, ...],
    users: tuple[str, ...] = (),
) -> StartingUsage:
    """Each workload user's usage from the site's associations. `user` and `account` are
    the jobs' columns, `accounts` the account names; `users`, where known, names the
    distinct user ids in increasing order."""
    rows = [a for a in site.associations if a.user is not None and a.raw_usage]
    total = sum(a.raw_usage or 0.0 for a in rows)
    per_user: dict[int, float] = {}
    if total <= 0:
        return StartingUsage(per_user, 0.0)
    ids = np.unique(user).tolist()
    if users and len(users) == len(ids):
        by_name: dict[str, float] = defaultdict(float)
        for a in rows:
            by_name[str(a.user)] += a.raw_usage or 0.0
        for uid, name in zip(ids, users, strict=True):
            if by_name.get(name):
                per_user[int(uid)] = by_name[name]
    else:
        by_account: dict[str, float] = defaultdict(float)
        for a in rows:
            by_account[a.account] += a.raw_usage or 0.0
        pairs = np.unique(np.stack([account, user]), axis=1).T.tolist() if len(user) else []
        users_of: dict[int, list[int]] = defaultdict(list)
        for acc, uid in pairs:
            users_of[int(acc)].append(int(uid))
        for acc, uids in users_of.items():
            usage = by_account.get(accounts[acc], 0.0) if 0 <= acc < len(accounts) else 0.0
            for uid in uids:
                if usage:
                    per_user[uid] = per_user.get(uid, 0.0) + usage / len(uids)
    return StartingUsage(per_user, max(total - sum(per_user.values()), 0.0))


def normalised_shares(site: Site, accounts: tuple[str, ...]) -> np.ndarray | None:
    """Each account's normalised shares as sshare reported them, or None unless every
    account of the workload has one."""
    norm = {a.account: a.norm_shares for a in site.associations if a.user is None}
    values = [norm.get(name) for name in accounts]
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return np.array(values, dtype=np.float64)
