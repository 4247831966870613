"""Sign-in for people: first run, sign in and out, the account's password and access tokens.

Every route that changes something declares require_csrf (fakecloud/web/csrf.py)."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, Field

from fakecloud.core.errors import UserError
from fakecloud.store.models import MAX_LOGIN_LENGTH, MAX_PASSWORD_LENGTH, TokenInfo
from fakecloud.web.csrf import require_csrf
from fakecloud.web.deps import (
    MAX_DATABASE_ID,
    AccountDep,
    RuntimeDep,
    StoreDep,
    client_address,
    error_responses,
    password_sign_in,
)
from fakecloud.web.sessions import end_session, session_cookie, session_login, start_session

router = APIRouter(prefix="/api", tags=["account"])
CsrfChecked = [Depends(require_csrf)]

Login = Annotated[str, Field(min_length=1, max_length=MAX_LOGIN_LENGTH)]
Password = Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]


class Credentials(BaseModel):
    login: Login
    password: Password


class PasswordChange(BaseModel):
    current: Password
    new: Password


class NewToken(BaseModel):
    # What the token is for ("home-assistant", "frigate"): letters, digits, '_' or '-'.
    label: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SignInState(BaseModel):
    login: str | None
    first_run: bool


class TokenRecord(BaseModel):
    id: int
    label: str
    created: datetime


class IssuedToken(TokenRecord):
    token: str  # shown this once


@router.get("/auth/state", responses=error_responses(503))
async def sign_in_state(request: Request, store: StoreDep) -> SignInState:
    """Who is signed in, and whether no account exists yet (the login page then offers to
    create the first)."""
    login = await session_login(request, store)
    first_run = login is None and not await store.list_accounts()
    return SignInState(login=login, first_run=first_run)


@router.post("/auth/login", dependencies=CsrfChecked, responses=error_responses(400, 401, 403))
async def sign_in(
    credentials: Credentials,
    request: Request,
    response: Response,
    store: StoreDep,
    runtime: RuntimeDep,
) -> SignInState:
    """Security consideration: the password check runs under the login guard (per client and
    per account limits, scrypt in a bounded pool); a refusal reads like a wrong password."""
    account = await password_sign_in(
        request, store, runtime, credentials.login, credentials.password
    )
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    await start_session(request, response, store, account.login)
    return SignInState(login=account.login, first_run=False)


@router.post("/auth/logout", dependencies=CsrfChecked, responses=error_responses(403))
async def sign_out(request: Request, response: Response, store: StoreDep) -> SignInState:
    await end_session(request, response, store)
    return SignInState(login=None, first_run=False)


@router.post(
    "/auth/first-account",
    dependencies=CsrfChecked,
    status_code=201,
    responses=error_responses(400, 403, 409),
)
async def create_first_account(
    credentials: Credentials, request: Request, response: Response, store: StoreDep
) -> SignInState:
    """Security consideration: while no account exists, anyone who reaches the server could
    claim it, so only clients on private networks (the LAN, this machine) may; there is no
    default password. `fakecloud account add` does the same from the command line."""
    if not _on_private_network(client_address(request)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "create the first account from your own network"
        )
    try:
        account = await store.add_account(credentials.login, credentials.password, first=True)
    except UserError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    await start_session(request, response, store, account.login)
    return SignInState(login=account.login, first_run=False)


def _on_private_network(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_private
    except ValueError:
        return False


@router.get("/account", responses=error_responses(401))
async def show_account(login: AccountDep, store: StoreDep) -> dict[str, Any]:
    account = await store.get_account(login)
    if account is None:  # removed while signed in
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this account no longer exists")
    tokens = [_token_record(token) for token in await store.list_tokens(login)]
    return {"login": account.login, "created": account.created, "tokens": tokens}


@router.post(
    "/account/password", dependencies=CsrfChecked, responses=error_responses(400, 401, 403)
)
async def change_password(
    change: PasswordChange,
    request: Request,
    login: AccountDep,
    store: StoreDep,
    runtime: RuntimeDep,
) -> dict[str, int]:
    """Needs the current password (checked under the login guard). Every other session of the
    account ends; this browser stays signed in."""
    if await password_sign_in(request, store, runtime, login, change.current) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong")
    try:
        await store.set_password(login, change.new)
    except UserError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    ended = await store.end_web_sessions(login, keep=session_cookie(request))
    return {"sessions_ended": ended}


def _token_record(token: TokenInfo) -> TokenRecord:
    return TokenRecord(id=token.id, label=token.partner, created=token.created)


@router.post(
    "/account/tokens",
    dependencies=CsrfChecked,
    status_code=201,
    responses=error_responses(400, 401, 403),
)
async def create_token(new: NewToken, login: AccountDep, store: StoreDep) -> IssuedToken:
    """A token for Home Assistant, an NVR or a script (HTTP `Authorization: Bearer <token>`,
    or Basic with the token as password). Only its hash is kept: this answer is the one time
    it is shown."""
    token = await store.issue_token(login, new.label)
    issued = (await store.list_tokens(login))[-1]  # ids grow: the newest is last
    return IssuedToken(**_token_record(issued).model_dump(), token=token)


@router.delete(
    "/account/tokens/{token_id}",
    dependencies=CsrfChecked,
    status_code=204,
    responses=error_responses(401, 403, 404),
)
async def revoke_token(
    token_id: Annotated[int, Path(ge=0, le=MAX_DATABASE_ID)], login: AccountDep, store: StoreDep
) -> Response:
    if not await store.revoke_token(login, token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
