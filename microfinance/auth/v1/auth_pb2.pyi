import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from microfinance.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StaffIdentity(_message.Message):
    __slots__ = ("staff_id", "role", "agent_id", "branch_id", "username")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    role: _common_pb2.Role
    agent_id: str
    branch_id: str
    username: str
    def __init__(self, staff_id: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("username", "password", "client_ip", "user_agent")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    client_ip: str
    user_agent: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("access_token", "expires_in", "refresh_token", "refresh_expires_in", "token_type", "must_change_password", "identity")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    MUST_CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    token_type: str
    must_change_password: bool
    identity: StaffIdentity
    def __init__(self, access_token: _Optional[str] = ..., expires_in: _Optional[int] = ..., refresh_token: _Optional[str] = ..., refresh_expires_in: _Optional[int] = ..., token_type: _Optional[str] = ..., must_change_password: _Optional[bool] = ..., identity: _Optional[_Union[StaffIdentity, _Mapping]] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshResponse(_message.Message):
    __slots__ = ("access_token", "expires_in", "refresh_token", "refresh_expires_in", "token_type", "must_change_password", "identity")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    MUST_CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    token_type: str
    must_change_password: bool
    identity: StaffIdentity
    def __init__(self, access_token: _Optional[str] = ..., expires_in: _Optional[int] = ..., refresh_token: _Optional[str] = ..., refresh_expires_in: _Optional[int] = ..., token_type: _Optional[str] = ..., must_change_password: _Optional[bool] = ..., identity: _Optional[_Union[StaffIdentity, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("refresh_token", "all_sessions")
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ALL_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    all_sessions: bool
    def __init__(self, refresh_token: _Optional[str] = ..., all_sessions: _Optional[bool] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ValidateTokenRequest(_message.Message):
    __slots__ = ("access_token",)
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    def __init__(self, access_token: _Optional[str] = ...) -> None: ...

class ValidateTokenResponse(_message.Message):
    __slots__ = ("identity", "jti", "issued_at", "expires_at", "must_change_password", "kid")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MUST_CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    identity: StaffIdentity
    jti: str
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    must_change_password: bool
    kid: str
    def __init__(self, identity: _Optional[_Union[StaffIdentity, _Mapping]] = ..., jti: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., must_change_password: _Optional[bool] = ..., kid: _Optional[str] = ...) -> None: ...

class ChangePasswordRequest(_message.Message):
    __slots__ = ("old_password", "new_password")
    OLD_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    old_password: str
    new_password: str
    def __init__(self, old_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ChangePasswordResponse(_message.Message):
    __slots__ = ("access_token", "expires_in", "refresh_token", "refresh_expires_in", "token_type", "identity")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    token_type: str
    identity: StaffIdentity
    def __init__(self, access_token: _Optional[str] = ..., expires_in: _Optional[int] = ..., refresh_token: _Optional[str] = ..., refresh_expires_in: _Optional[int] = ..., token_type: _Optional[str] = ..., identity: _Optional[_Union[StaffIdentity, _Mapping]] = ...) -> None: ...

class GetPublicKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JsonWebKey(_message.Message):
    __slots__ = ("kid", "kty", "alg", "use", "crv", "x", "n", "e")
    KID_FIELD_NUMBER: _ClassVar[int]
    KTY_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    CRV_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    E_FIELD_NUMBER: _ClassVar[int]
    kid: str
    kty: str
    alg: str
    use: str
    crv: str
    x: str
    n: str
    e: str
    def __init__(self, kid: _Optional[str] = ..., kty: _Optional[str] = ..., alg: _Optional[str] = ..., use: _Optional[str] = ..., crv: _Optional[str] = ..., x: _Optional[str] = ..., n: _Optional[str] = ..., e: _Optional[str] = ...) -> None: ...

class GetPublicKeysResponse(_message.Message):
    __slots__ = ("keys", "current_kid", "max_age_seconds")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_KID_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[JsonWebKey]
    current_kid: str
    max_age_seconds: int
    def __init__(self, keys: _Optional[_Iterable[_Union[JsonWebKey, _Mapping]]] = ..., current_kid: _Optional[str] = ..., max_age_seconds: _Optional[int] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("staff_id", "username", "role", "agent_id", "branch_id", "active", "must_change_password", "locked_until", "password_changed_at", "last_login_at", "audit")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MUST_CHANGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    LOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_AT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    username: str
    role: _common_pb2.Role
    agent_id: str
    branch_id: str
    active: bool
    must_change_password: bool
    locked_until: _timestamp_pb2.Timestamp
    password_changed_at: _timestamp_pb2.Timestamp
    last_login_at: _timestamp_pb2.Timestamp
    audit: _common_pb2.Audit
    def __init__(self, staff_id: _Optional[str] = ..., username: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ..., active: _Optional[bool] = ..., must_change_password: _Optional[bool] = ..., locked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., password_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_login_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., audit: _Optional[_Union[_common_pb2.Audit, _Mapping]] = ...) -> None: ...

class CreateCredentialRequest(_message.Message):
    __slots__ = ("staff_id", "username", "initial_password", "role", "agent_id", "branch_id")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    username: str
    initial_password: str
    role: _common_pb2.Role
    agent_id: str
    branch_id: str
    def __init__(self, staff_id: _Optional[str] = ..., username: _Optional[str] = ..., initial_password: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ...) -> None: ...

class CreateCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class UpdateCredentialRequest(_message.Message):
    __slots__ = ("staff_id", "username", "role", "agent_id", "branch_id")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_ID_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    username: str
    role: _common_pb2.Role
    agent_id: str
    branch_id: str
    def __init__(self, staff_id: _Optional[str] = ..., username: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ..., agent_id: _Optional[str] = ..., branch_id: _Optional[str] = ...) -> None: ...

class UpdateCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class SetCredentialActiveRequest(_message.Message):
    __slots__ = ("staff_id", "active")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    active: bool
    def __init__(self, staff_id: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class SetCredentialActiveResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class ResetPasswordRequest(_message.Message):
    __slots__ = ("staff_id", "temporary_password")
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    temporary_password: str
    def __init__(self, staff_id: _Optional[str] = ..., temporary_password: _Optional[str] = ...) -> None: ...

class ResetPasswordResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class UnlockCredentialRequest(_message.Message):
    __slots__ = ("staff_id",)
    STAFF_ID_FIELD_NUMBER: _ClassVar[int]
    staff_id: str
    def __init__(self, staff_id: _Optional[str] = ...) -> None: ...

class UnlockCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class RotateKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateKeysResponse(_message.Message):
    __slots__ = ("new_kid", "keys")
    NEW_KID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    new_kid: str
    keys: _containers.RepeatedCompositeFieldContainer[JsonWebKey]
    def __init__(self, new_kid: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[JsonWebKey, _Mapping]]] = ...) -> None: ...

class IssueServiceTokenRequest(_message.Message):
    __slots__ = ("service", "secret")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    service: str
    secret: str
    def __init__(self, service: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class IssueServiceTokenResponse(_message.Message):
    __slots__ = ("access_token", "expires_in")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_in: int
    def __init__(self, access_token: _Optional[str] = ..., expires_in: _Optional[int] = ...) -> None: ...
