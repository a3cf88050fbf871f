"""``memlab keys create|list|revoke --store DIR``: API keys of ``memlab serve``.

``create`` prints the new key once, as its last line; only a salted HMAC of it is stored.
"""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("keys", help="Create, list and revoke API keys of `memlab serve`.",
                       description="API keys of a served directory. Each key grants one org/project.")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True
    c = ksub.add_parser("create", help="Create a key for an org/project; prints it once, as the last line.")
    c.add_argument("--store", required=True, metavar="DIR", help="The served directory (created if missing).")
    c.add_argument("--org", required=True, help="Organization name (letters, digits, '_', '.', '-').")
    c.add_argument("--project", required=True, help="Project name (letters, digits, '_', '.', '-').")
    c.add_argument("--name", default=None, help="A label for the key (e.g. who uses it).")
    c.set_defaults(func=_create)
    ls = ksub.add_parser("list", help="List keys (ids, org/project, dates; never the keys themselves).")
    ls.add_argument("--store", required=True, metavar="DIR")
    ls.add_argument("--all", action="store_true", help="Include revoked keys.")
    ls.add_argument("--json", action="store_true", help="Print JSON.")
    ls.set_defaults(func=_list)
    r = ksub.add_parser("revoke", help="Revoke a key by its id (or the full key); effective at once.")
    r.add_argument("--store", required=True, metavar="DIR")
    r.add_argument("key_id", help="The key id shown by `memlab keys list` (or the key itself).")
    r.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    from memlab.server.keys import KeyStore

    key, record = KeyStore(args.store).create(args.org, args.project, args.name)
    print(f"key id {record.key_id} for org {record.org!r}, project {record.project!r}. "
          "Store it now: it is shown only once.")
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    from memlab.server.keys import KeyStore

    records = KeyStore(args.store, create=False).list(include_revoked=args.all)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    if not records:
        print("no keys")
    for r in records:
        state = f"revoked {r.revoked_at}" if r.revoked_at else "active"
        print(f"{r.key_id}  {r.org}/{r.project}  {r.name or '-'}  created {r.created_at}  {state}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from memlab.server.keys import KeyStore

    record = KeyStore(args.store, create=False).revoke(args.key_id)
    print(f"revoked {record.key_id} ({record.org}/{record.project})")
    return 0
