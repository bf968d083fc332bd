"""The emulator's OpenAPI 3.1 document of the CPS API (``GET /cps/openapi.json``).

Paths, parameters and descriptions follow Payter's CPS (payter.md §3.4; Payter's own document
is OpenAPI 3.0.1, "Payter Cloud Payments Service" 1.0, of which only the start is public). The
schemas come from :mod:`emulator.cps.models`, so the document and the answers cannot drift
apart. What is the emulator's own choice where Payter's documentation is silent is marked
"Emulator:" in the text.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from emulator.cps import models

_REF = "#/components/schemas/{model}"
_MODELS: tuple[type[models.CpsModel], ...] = (
    models.Terminal,
    models.Card,
    models.Session,
    models.ScreenRequest,
    models.UiResult,
    models.UiEvent,
    models.StateEvent,
    models.Webhook,
    models.WebhookRequest,
    models.ApiKey,
    models.Increment,
    models.ErrorBody,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("ErrorBody"), description)


def _query(
    name: str,
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = False,
    explode: bool | None = None,
) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }
    if explode is not None:
        param["explode"] = explode
    return param


_STR = {"type": "string"}
_URL = models.URL_SCHEMA
_SECONDS = {"type": "number", "minimum": 0, "maximum": models.MAX_SECONDS}


def _amount(minimum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": models.MAX_AMOUNT}


_SERIAL = {
    "name": "serialNumber",
    "in": "path",
    "required": True,
    "description": "Serial number of the terminal (e.g. APO20242802258).",
    "schema": _STR,
}
_SESSION_ID = {
    "name": "sessionId",
    "in": "path",
    "required": True,
    "description": "A sessionId returned by authorize.",
    "schema": _STR,
}
_UI_MESSAGE = _query("uiMessage", _STR, "Message to show.")
_UI_TIMEOUT = _query("uiMessageTimeout", _SECONDS, "Seconds the message stays on the display.")
_RECEIPT = _query(
    "receiptLine", {"type": "array", "items": _STR}, "Extra line on the receipt (repeatable).",
    explode=True,
)  # fmt: skip

_UNAUTHORIZED = _error("Missing or unknown API key.")
_NOT_FOUND = _error(
    "No such terminal for this API key (or a terminal in mode ocpi), or no such session."
)
_BAD_REQUEST = _error(
    "A query parameter is missing, invalid or given twice, or a required one is empty (an "
    "empty optional one counts as not given); error.parameter names it. "
    "A path, query string or header that is not valid UTF-8 text (invalid_text)."
)
_TOO_LARGE = _error("The body is larger than the max_body_bytes setting (body_too_large).")
_OFFLINE = _error("The terminal is offline.")
_CONFLICT = _error("Conflicts with the terminal's or the session's state.")


def _op(
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    description: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
    operation_id: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {"tags": [tag], "summary": summary, "operationId": operation_id}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    else:
        responses = {**responses, "401": _UNAUTHORIZED}
    op["responses"] = responses
    return op


_INJECTED = {
    status: _error(
        "Injected failure (POST /__admin/cps/commit-faults): not carried out; 504 is an "
        "injected timeout (terminal_timeout)."
    )
    for status in ("500", "502", "503", "504")
}


def _empty_or(answers: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """start, stop and ui: Payter answers an empty body (setting cps_answers 'payter'); the
    emulator's JSON with cps_answers 'emulator'."""
    if answers == "payter":
        return {"description": f"{description} Empty body, as Payter's CPS answers."}
    return _json(schema, f"{description} Emulator: Payter answers an empty body.")


def _paths(answers: str = "payter") -> dict[str, Any]:
    terminal = "/terminals/{serialNumber}"
    session = terminal + "/sessions/{sessionId}"
    session_answer = _json(_ref("Session"), "The session.")
    return {
        "/apikey": {
            "get": _op(
                "ApiKey",
                "Get an apikey with a token",
                {
                    "200": _json(_ref("ApiKey"), "The API key."),
                    "400": _BAD_REQUEST,
                    "401": _error("Unknown token."),
                },
                description="Emulator: Payter's ApiKey endpoint is not public; this is the "
                "emulator's shape. The fixed key's token is the cps_apikey_token setting; "
                "POST /__admin/cps/api-keys answers a token with each minted key.",
                parameters=[
                    _query(
                        "token",
                        {"type": "string", "minLength": 1},
                        "Exchange token.",
                        required=True,
                    )
                ],
                public=True,
                operation_id="getApiKey",
            )
        },
        "/webhook": {
            "get": _op(
                "Web Hook",
                "Get webhook for online state of all terminals",
                {"200": _json(_ref("Webhook"), "The state webhook of this API key.")},
                operation_id="getWebhook",
            ),
            "post": _op(
                "Web Hook",
                "Set the state webhook for all terminals of this API key",
                {
                    "200": _json(_ref("Webhook"), "The new state webhook."),
                    "400": _error(
                        "No URL (neither ?url= nor a body url: missing_parameter), or not an "
                        "absolute http(s) URL (invalid_parameter); invalid JSON (invalid_json), "
                        "a body that is not an object or beyond the JSON limits (invalid_body), "
                        "or text that is not valid Unicode (invalid_text)."
                    ),
                    "413": _TOO_LARGE,
                },
                description='The URL as ?url= or as the JSON body {"url": ...}; one of the two '
                "is required (OpenAPI cannot say so: both are optional here). Every online "
                "or state change of the key's terminals is POSTed there as a StateEvent.",
                parameters=[
                    _query("url", _URL, "Where to POST state events."),
                    _query("callbackUrl", _URL, "Taken when url is absent."),
                ],
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"anyOf": [_ref("WebhookRequest"), {"type": "null"}]}
                        }
                    },
                },
                operation_id="setWebhook",
            ),
            "delete": _op(
                "Web Hook",
                "Remove the state webhook",
                {"200": _json(_ref("Webhook"), "url is null.")},
                operation_id="deleteWebhook",
            ),
        },
        "/terminals": {
            "get": _op(
                "Terminal",
                "List all terminals",
                {
                    "200": _json(
                        {"type": "array", "items": _ref("Terminal")},
                        "The CPS terminals this API key sees.",
                    )
                },
                operation_id="listTerminals",
            )
        },
        terminal: {
            "parameters": [_SERIAL],
            "get": _op(
                "Terminal",
                "Get info for terminal",
                {"200": _json(_ref("Terminal"), "The terminal."), "404": _NOT_FOUND},
                operation_id="getTerminal",
            ),
        },
        terminal + "/start": {
            "parameters": [_SERIAL],
            "post": _op(
                "Card",
                "Start reading cards",
                {
                    "200": _empty_or(answers, _ref("Terminal"), "Reading (state READING)."),
                    "400": _BAD_REQUEST,
                    "404": _NOT_FOUND,
                    "409": _CONFLICT,
                    "503": _OFFLINE,
                },
                description="The card read is POSTed to callbackUrl and can be polled with GET "
                ".../card. The terminal reads for cps_read_timeout seconds (0: until stopped).",
                parameters=[
                    _query(
                        "authorizedAmount",
                        _amount(0),
                        "Amount to authorize (minor units); only used if authorize is called "
                        "after card read. 0: none.",
                    ),
                    _query("callbackUrl", _URL, "Card-read webhook."),
                    _query("uiMessage", _STR, "Message to show when requesting card."),
                    _query("uiMessageTitle", _STR, "Title of the card request."),
                    _query("uiMessageTimeout", _SECONDS, "Accepted; no effect on the reading."),
                    _query("hideAmount", {"type": "boolean"}, "Do not show the amount."),
                    _query(
                        "customIdleScreen",
                        {"type": "boolean"},
                        "Accepted; no effect (Payter's meaning is not public).",
                    ),
                    _query(
                        "qr",
                        _STR,
                        "Accepted; no effect (a QR code to show while reading, seen in a "
                        "third-party client only).",
                    ),
                    _query("language", _STR, "Language of the payment screens (e.g. en)."),
                    _query(
                        "supportedPaymentMethods",
                        {"type": "array", "items": {"type": "string"}},
                        "What to read (repeatable): EMV, CONTACTLESS, CHIP, QR_CODE, RFID, "
                        "MIFARE. Default: the cps_payment_methods setting. Emulator: another "
                        "value is accepted and ignored (Payter's full list is not public), with "
                        "an info finding CPS-05.",
                        explode=True,
                    ),
                ],
                operation_id="start",
            ),
        },
        terminal + "/card": {
            "parameters": [_SERIAL],
            "get": _op(
                "Card",
                "Get the read card (long poll)",
                {
                    "200": _json(_ref("Card"), "The card read and waiting for authorize/stop."),
                    "204": {"description": "Emulator: no card was read within waitTime."},
                    "400": _BAD_REQUEST,
                    "404": _NOT_FOUND,
                },
                parameters=[
                    _query(
                        "waitTime",
                        _SECONDS,
                        "Time to wait for card to be read (seconds; capped by cps_max_wait_time).",
                    )
                ],
                operation_id="getCard",
            ),
        },
        terminal + "/stop": {
            "parameters": [_SERIAL],
            "post": _op(
                "Card",
                "Stop reading cards",
                {
                    "200": _empty_or(answers, _ref("Terminal"), "Back to IDLE."),
                    "400": _BAD_REQUEST,
                    "404": _NOT_FOUND,
                    "409": _CONFLICT,
                    "503": _OFFLINE,
                },
                description="Stop reading cards, this can be used while waiting for a card or "
                "once a card has been read to return to idle.",
                parameters=[_UI_MESSAGE, _UI_TIMEOUT],
                operation_id="stop",
            ),
        },
        terminal + "/authorize": {
            "parameters": [_SERIAL],
            "post": _op(
                "Session",
                "Authorize on the read card",
                {
                    "200": session_answer,
                    "400": _error(
                        "A parameter is invalid (error.parameter names it), or there is no "
                        "amount to authorize (no_amount: give authorizedAmount on start or here)."
                    ),
                    "402": _error(
                        "Declined: error.responseCode and error.reason say why "
                        "(error.sessionId is the declined attempt)."
                    ),
                    "404": _NOT_FOUND,
                    "409": _error(
                        "No card read (no_card), an RFID/QR read (not_a_payment_card), or an "
                        "authorization under way (busy)."
                    ),
                    "503": _OFFLINE,
                },
                description="Authorize a transaction on the currently active card; the "
                "returned session can later be committed or cancelled. Answers once the "
                "outcome is known (with a PIN up to 3 min 30 s).",
                parameters=[
                    _UI_MESSAGE,
                    _UI_TIMEOUT,
                    _RECEIPT,
                    _query(
                        "authorizedAmount",
                        _amount(1),
                        "Emulator: overrides the start's authorizedAmount.",
                    ),
                ],
                operation_id="authorize",
            ),
        },
        terminal + "/sessions": {
            "parameters": [_SERIAL],
            "get": _op(
                "Session",
                "All sessions of the terminal",
                {
                    "200": _json({"type": "array", "items": _ref("Session")}, "Oldest first."),
                    "404": _NOT_FOUND,
                },
                operation_id="listSessions",
            ),
        },
        session: {
            "parameters": [_SERIAL, _SESSION_ID],
            "get": _op(
                "Session",
                "One session",
                {"200": session_answer, "404": _NOT_FOUND},
                operation_id="getSession",
            ),
        },
        session + "/commit": {
            "parameters": [_SERIAL, _SESSION_ID],
            "post": _op(
                "Session",
                "Commit the session for its final amount",
                {
                    "200": session_answer,
                    "400": _error(
                        "commitAmount missing or invalid, or another parameter invalid "
                        "(error.parameter names it); or above the authorized amount "
                        "(amount_exceeds_authorization, error.authorizedAmount)."
                    ),
                    "404": _NOT_FOUND,
                    "409": _error("The session is already committed, cancelled or expired."),
                    **_INJECTED,
                },
                description="After this the session is complete and the same card can start a "
                "new session. While the terminal is offline the commit is accepted, marked "
                "queued and carried out when it is back online.",
                parameters=[
                    _query(
                        "commitAmount",
                        _amount(0),
                        "Final amount to commit the transaction (minor units).",
                        required=True,
                    ),
                    _query("uiMessage", _STR, "Message to show while completing."),
                    _UI_TIMEOUT,
                    _RECEIPT,
                ],
                operation_id="commit",
            ),
        },
        session + "/cancel": {
            "parameters": [_SERIAL, _SESSION_ID],
            "post": _op(
                "Session",
                "Cancel (void) the session",
                {
                    "200": session_answer,
                    "400": _BAD_REQUEST,
                    "404": _NOT_FOUND,
                    "409": _error("The session is already committed, cancelled or expired."),
                    **_INJECTED,
                },
                description="Queued like a commit while the terminal is offline.",
                parameters=[_UI_MESSAGE, _UI_TIMEOUT, _RECEIPT],
                operation_id="cancel",
            ),
        },
        session + "/increment": {
            "parameters": [_SERIAL, _SESSION_ID],
            "post": _op(
                "Session",
                "Incremental authorization (emulator extension)",
                {
                    "200": _json(_ref("Increment"), "Approved."),
                    "400": _BAD_REQUEST,
                    "402": _error("The issuer declined the increment (increment_declined)."),
                    "404": _NOT_FOUND,
                    "409": _CONFLICT,
                    "503": _OFFLINE,
                },
                description="Emulator: Payter documents incremental authorization on Apollo "
                "but not its CPS path. Test cards with outcome incremental_ok approve it.",
                parameters=[
                    _query(
                        "amount",
                        _amount(1),
                        "Amount to add (minor units).",
                        required=True,
                    )
                ],
                operation_id="increment",
            ),
        },
        terminal + "/ui": {
            "parameters": [_SERIAL],
            "post": _op(
                "UI",
                "Set terminal display screen",
                {
                    "200": _empty_or(answers, _ref("UiResult"), "Shown, or held during a payment."),
                    "400": _error(
                        "No body (missing_body), invalid JSON (invalid_json), a body beyond the "
                        "JSON limits (invalid_body) or not valid Unicode (invalid_text), an "
                        "invalid screen (invalid_screen; error.message names the property) or "
                        "callbackUrl (invalid_parameter)."
                    ),
                    "404": _NOT_FOUND,
                    "409": _error(
                        "A P6X terminal (P66, P68) has no graphical display (no_display)."
                    ),
                    "413": _TOO_LARGE,
                    "503": _OFFLINE,
                },
                description="Apollo screen types: carousel, info, notification, selection, "
                "screensaver, message, dispense. Presses are POSTed to callbackUrl as UiEvent.",
                parameters=[_query("callbackUrl", _URL, "UI-event webhook.")],
                body={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ScreenRequest")}},
                },
                operation_id="ui",
            ),
        },
    }


def _webhook(name: str, schema: str, description: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": name,
            "description": description,
            "operationId": f"{name.replace(' ', '')}Webhook",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(schema)}},
            },
            "responses": {
                "2XX": {"description": "Delivered (any 2xx); no retry."},
                "409": {"description": "Definitive; no retry."},
                "default": {
                    "description": "Emulator: anything else is redelivered on the emulator's "
                    "own schedule (cps_webhook_retries; Payter's is not public)."
                },
            },
        }
    }


@cache
def _components() -> dict[str, Any]:
    _, top = models_json_schema([(m, "serialization") for m in _MODELS], ref_template=_REF)
    return dict(top.get("$defs", {}))


def openapi_document(server_url: str, answers: str = "payter") -> dict[str, Any]:
    """The document; ``answers`` is the setting cps_answers (what start, stop, ui answer)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Payter Cloud Payments Service (emulated)",
            "version": "1.0",
            "description": "The Payter CPS API as the payter-emulator serves it: the terminal "
            "is slaved to the API; start card reading, poll or receive the card, authorize, "
            "then commit or cancel every session. Amounts are integers in minor units. Every "
            'error is {"error": {"code", "message", "status", ...}}.',
        },
        "servers": [{"url": server_url, "description": "This emulator"}],
        "tags": [
            {"name": "Terminal", "description": "Get terminal info"},
            {"name": "Card", "description": "Get card info and control card reading"},
            {"name": "UI", "description": "Set terminal display screens"},
            {"name": "Session", "description": "Create and complete sessions"},
            {"name": "Web Hook", "description": "State web hook for all terminals"},
            {"name": "ApiKey", "description": "Get an apikey with a token"},
        ],
        "security": [{"cpsApiKey": []}],
        "paths": _paths(answers),
        "webhooks": {
            "card": _webhook("card read", "Card", "To the start's callbackUrl."),
            "ui": _webhook("ui event", "UiEvent", "To the ui request's callbackUrl."),
            "state": _webhook("terminal state", "StateEvent", "To the /webhook URL."),
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "cpsApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": 'The header value is CPS apikey="<key>".',
                }
            },
        },
    }
