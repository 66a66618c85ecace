"""PynamoDB models: one table per entity, keys chosen so every list is a Query on its owner."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from assisti_common.db.base import TableMeta
from assisti_common.settings import get_settings

_settings = get_settings()

USER_LISTING = "USER"


class UsersByJoinIndex(GlobalSecondaryIndex["UserModel"]):
    """All users, newest first (ids are UUIDv7), for staff listings without a Scan."""

    class Meta:
        index_name = "by-join"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class UserModel(Model):
    class Meta(TableMeta):
        table_name = _settings.users_table

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    username = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    # None until the email is confirmed: the password only takes effect with the confirmed code.
    password_hash = UnicodeAttribute(null=True)
    date_joined = UTCDateTimeAttribute()
    is_active = BooleanAttribute(default=False)
    is_verified = BooleanAttribute(default=False)
    is_staff = BooleanAttribute(default=False)
    two_factor_enabled = BooleanAttribute(default=False)
    bio = UnicodeAttribute(default="")
    profile_created_at = UTCDateTimeAttribute()
    listing = UnicodeAttribute(default=USER_LISTING)
    by_join = UsersByJoinIndex()


class UserHandleModel(Model):
    """A unique handle (`email:…` or `username:…`) owned by one user: uniqueness by condition."""

    class Meta(TableMeta):
        table_name = _settings.user_handles_table

    handle = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


class AuthCodeModel(Model):
    """The live one-time code for one address and purpose; a new code overwrites (voids) the old."""

    class Meta(TableMeta):
        table_name = _settings.auth_codes_table

    key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(null=True)  # None when no account may use it (unknown email)
    code_hash = UnicodeAttribute()
    session_hash = UnicodeAttribute(null=True)  # for sign-in challenges
    expires_at = NumberAttribute()
    attempts = NumberAttribute(default=0)
    consumed = BooleanAttribute(default=False)
    # PynamoDB types `of` as the element type; the generic argument gives the value type.
    sent_at = ListAttribute[int](of=NumberAttribute, default=list)  # type: ignore[arg-type]  # sends in the last hour: rate limit
    pending_password_hash = UnicodeAttribute(null=True)  # sign-up: the password given with it
    pending_name = UnicodeAttribute(null=True)
    # Sign-in challenges: the factor already proven before this one ("password"), if any.
    proven_factor = UnicodeAttribute(null=True)
    ttl = TTLAttribute()
    version = VersionAttribute()


class CodeFailuresModel(Model):
    """Wrong codes for one address and purpose over a day, across every code: a budget that caps
    guessing however many codes are requested. Kept in the auth-codes table."""

    class Meta(TableMeta):
        table_name = _settings.auth_codes_table

    key = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    ttl = TTLAttribute()  # the end of the day-long window, fixed by its first failure


class PasswordGuardModel(Model):
    """Wrong-password counter per address, kept in the auth-codes table."""

    class Meta(TableMeta):
        table_name = _settings.auth_codes_table

    key = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    locked_until = NumberAttribute(default=0)
    ttl = TTLAttribute()
    version = VersionAttribute()


class SessionModel(Model):
    """A signed-in device. Access tokens name it, so revoking it rejects them at once."""

    class Meta(TableMeta):
        table_name = _settings.sessions_table

    user_id = UnicodeAttribute(hash_key=True)
    session_id = UnicodeAttribute(range_key=True)
    created_at = UTCDateTimeAttribute()
    # When the user last proved who they are on this device (sign-in, password): re-authentication.
    authenticated_at = NumberAttribute(default=0)
    last_used_at = UTCDateTimeAttribute(null=True)  # sign-in and each refresh
    device = UnicodeAttribute(default="Unknown device")  # a label from the user agent
    ip = UnicodeAttribute(null=True)
    refresh_hash = UnicodeAttribute()
    refresh_expires_at = NumberAttribute()
    # Hashes of rotated refresh tokens: presenting one again means theft, so the session dies.
    rotated_hashes = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    # The token the last rotation replaced, and until when presenting it again is a retry of that
    # rotation (its answer lost on the way), not theft.
    retry_hash = UnicodeAttribute(null=True)
    retry_until = NumberAttribute(null=True)
    revoked = BooleanAttribute(default=False)
    ttl = TTLAttribute()


class SecurityEventModel(Model):
    """One security event of one user (the audit trail), newest first. Never a code, password or token."""

    class Meta(TableMeta):
        table_name = _settings.security_events_table

    user_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)  # UUIDv7: chronological
    type = UnicodeAttribute()
    method = UnicodeAttribute(null=True)  # how: password, email_code, a code's purpose …
    occurred_at = UTCDateTimeAttribute()
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    session_id = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True)  # staff who did it, when not the user
    ttl = TTLAttribute()


class CategoryModel(Model):
    """A chatroom, keyed by its owner: one user's categories are one partition."""

    class Meta(TableMeta):
        table_name = _settings.categories_table

    owner_id = UnicodeAttribute(hash_key=True)
    category_id = UnicodeAttribute(range_key=True)  # UUIDv7: newest first by reverse order
    name = UnicodeAttribute()
    assistant = UnicodeAttribute()
    language = UnicodeAttribute(null=True)
    instructions = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class MessageModel(Model):
    """One message and its answer: its own item (items stop at 400 KB), in its owner's category."""

    class Meta(TableMeta):
        table_name = _settings.messages_table

    conversation = UnicodeAttribute(hash_key=True)  # "{owner_id}#{category_id}"
    message_id = UnicodeAttribute(range_key=True)  # UUIDv7: chronological
    owner_id = UnicodeAttribute()
    category_id = UnicodeAttribute()
    message = UnicodeAttribute()
    answer = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # pending | answered | failed
    kind = UnicodeAttribute(default="llm")  # llm | command (fast path)
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    prompt_tokens = NumberAttribute(default=0)
    completion_tokens = NumberAttribute(default=0)
    usage_estimated = BooleanAttribute(default=False)  # the endpoint streamed no usage: counts are estimates
    latency_ms = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    answered_at = UTCDateTimeAttribute(null=True)
    # The attempt in flight: when a retry started it (the first starts at created_at), and the tokens it
    # holds on the usage counter of `reserved_day` until it settles (0 once settled).
    retried_at = UTCDateTimeAttribute(null=True)
    reserved_tokens = NumberAttribute(default=0)
    reserved_day = UnicodeAttribute(null=True)


class UsageModel(Model):
    """A user's chat usage for one UTC day: the quotas read and add to it atomically."""

    class Meta(TableMeta):
        table_name = _settings.usage_table

    owner_id = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)  # YYYY-MM-DD, UTC
    messages = NumberAttribute(default=0)
    tokens = NumberAttribute(default=0)
    ttl = TTLAttribute(null=True)


class ImageItemModel(Model):
    """An image job (OCR, animals, road signs) and its result. One user's items of one kind are one
    partition, newest first; the worker finds an item from its S3 key, which names the same keys."""

    class Meta(TableMeta):
        table_name = _settings.image_items_table

    partition = UnicodeAttribute(hash_key=True)  # "{owner_id}#{kind}"
    item_id = UnicodeAttribute(range_key=True)  # UUIDv7
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    status = UnicodeAttribute()  # awaiting_upload | processing | done | failed
    label = UnicodeAttribute(null=True)
    confidence = NumberAttribute(null=True)
    result = JSONAttribute(null=True)  # the kind's typed result (image_jobs.kinds), as JSON
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    claim = UnicodeAttribute(null=True)  # which delivery is processing it: only that one may finish it
    image_key = UnicodeAttribute(null=True)  # the S3 key of the image a done item's label was read from
    # The version of it the label was read from: the upload's, which S3 never changes (None for an item
    # done before the bucket was versioned, whose key names a copy the worker kept under images/).
    image_version = UnicodeAttribute(null=True)
    # The type found in that image's bytes, which its link serves: the object has the type the upload
    # declared (None for items done before it was recorded, whose kept copy has the type found).
    image_type = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
