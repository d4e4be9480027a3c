"""Reading ``null`` as "not sent" where a model has no room for ``None``.

Some servers (Go's ``encoding/json`` among them) write empty lists and maps as
``null``. Decoding tries the strict, fast way first; only when that fails on a
body that holds ``null`` are those members dropped, so their defaults apply.
Values under ``Any`` (tool arguments, raw data) are left exactly as sent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec
from msgspec import inspect as mi


@lru_cache(maxsize=64)
def _info(kind: Any) -> mi.Type:
    return mi.type_info(kind)


def _accepts_none(kind: mi.Type) -> bool:
    if isinstance(kind, mi.UnionType):
        return any(_accepts_none(member) for member in kind.types)
    return isinstance(kind, (mi.NoneType, mi.AnyType))


def _drop_nulls(value: Any, kind: mi.Type) -> Any:
    if isinstance(kind, mi.StructType) and isinstance(value, dict):
        fields = {field.encode_name: field.type for field in kind.fields}
        return {
            key: _drop_nulls(item, fields[key]) if key in fields else item
            for key, item in value.items()
            if item is not None or key not in fields or _accepts_none(fields[key])
        }
    if isinstance(kind, (mi.ListType, mi.VarTupleType)) and isinstance(value, list):
        return [_drop_nulls(item, kind.item_type) for item in value]
    if isinstance(kind, mi.DictType) and isinstance(value, dict):
        return {key: _drop_nulls(item, kind.value_type) for key, item in value.items()}
    if isinstance(kind, mi.UnionType):
        return _drop_nulls(value, _member_for(value, kind))
    return value


def _member_for(value: Any, union: mi.UnionType) -> mi.Type:
    """The member of ``union`` that ``value`` would decode as (by tag, else the only one)."""
    members = [member for member in union.types if not isinstance(member, mi.NoneType)]
    for member in members:
        if (
            isinstance(member, mi.StructType)
            and member.tag_field
            and isinstance(value, dict)
            and value.get(member.tag_field) == member.tag
        ):
            return member
    return members[0] if len(members) == 1 else mi.AnyType()


def convert_lenient(value: Any, kind: Any) -> Any:
    """``msgspec.convert`` with ``null`` members read as absent (see the module doc)."""
    return msgspec.convert(_drop_nulls(value, _info(kind)), kind)
