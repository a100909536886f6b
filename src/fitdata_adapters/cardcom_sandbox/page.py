"""The hosted payment page (``/EA/LPC6/<terminal>/<LowProfileId>``) a person can use."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from litestar import Request, Response, get, post
from litestar.enums import MediaType
from litestar.params import FromPath

from fitdata_adapters.cardcom_sandbox.cards import (
    ALWAYS_DECLINED_CARD,
    TEST_CARD,
    TOKEN_DECLINES_LATER_CARD,
    CardInputError,
    parse_card,
)
from fitdata_adapters.cardcom_sandbox.deps import Sandbox
from fitdata_adapters.cardcom_sandbox.engine import (
    AlreadyProcessed,
    UnknownLowProfile,
)
from fitdata_adapters.cardcom_sandbox.store import LowProfile

PAGE_PATH = "/ea/lpc6/{terminal:int}/{low_profile_id:str}"

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;padding:2rem 1rem;color:#1d2430}
main{max-width:26rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem 2rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
.banner{background:#fff4d6;border:1px solid #f0d48a;border-radius:8px;padding:.6rem .8rem;
font-size:.85rem}
.banner p{margin:0}.banner ul{margin:.4rem 0 0;padding-left:1.2rem}
h1{font-size:1.3rem;margin:1.2rem 0 .8rem}
.due{margin:0;color:#57606a;font-size:.9rem}
label{display:block;margin-top:1rem;font-weight:600}
.optional{font-weight:400;color:#57606a}
input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;margin-top:.3rem;
border:1px solid #c6ccd6;border-radius:6px}
input[aria-invalid=true]{border-color:#b42318}
.row{display:flex;gap:1rem}.row>div{flex:1}
button{margin-top:1.4rem;width:100%;padding:.75rem;font-size:1.05rem;border:0;
border-radius:8px;background:#1f6feb;color:#fff;cursor:pointer}
.error{color:#b42318;font-size:.9rem;margin-top:.25rem}
.amount{font-size:1.6rem;font-weight:700;margin:.1rem 0 0}
"""

_CURRENCY_SYMBOLS = {1: "₪", 2: "$", 978: "€", 826: "£"}


def _document(title: str, body: str) -> str:
    # Always English: the merchant's ``Language`` (usually "he") selects Cardcom's own
    # translation, which the sandbox does not have; declaring Hebrew over English text would
    # mislead screen readers and translators.
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _html(content: str, status: int = 200) -> Response[str]:
    return Response(content=content, status_code=status, media_type=MediaType.HTML)


def render_form(
    low_profile: LowProfile,
    *,
    today: date,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    """The payment form, prefilled with Cardcom's test card so a click pays."""
    values = values or {}
    errors = errors or {}
    defaults = {
        "card_number": TEST_CARD,
        "card_expiry": f"12/{(today.year + 2) % 100:02d}",
        "cvv": "123",
        "card_owner_name": low_profile.owner_name or "",
        "card_owner_email": low_profile.owner_email or "",
    }

    def field(name: str, label_html: str, kind: str = "text", extra: str = "") -> str:
        value = values.get(name, defaults[name])
        error = ""
        if name in errors:
            # Tied to the input so assistive tech reads the problem with the field.
            error = f'<div class="error" id="{name}-error">{escape(errors[name])}</div>'
            extra += f' aria-invalid="true" aria-describedby="{name}-error"'
        return (
            f'<label for="{name}">{label_html}</label>'
            f'<input id="{name}" name="{name}" type="{kind}" value="{escape(value)}" {extra}>'
            f"{error}"
        )

    symbol = _CURRENCY_SYMBOLS.get(low_profile.iso_coin_id, "")
    amount = f"{symbol}{low_profile.amount:,.2f}"
    optional = ' <span class="optional">(optional)</span>'
    cancel = (
        f'<p><a href="{escape(low_profile.cancel_url)}">Cancel</a></p>'
        if low_profile.cancel_url
        else ""
    )
    body = (
        '<div class="banner" role="note"><p><strong>Cardcom sandbox</strong>:'
        " a test page, no real money moves.</p><ul>"
        f"<li><code>{TEST_CARD}</code> pays (any future expiry, CVV 123)</li>"
        f"<li><code>{ALWAYS_DECLINED_CARD}</code> is always declined</li>"
        f"<li><code>{TOKEN_DECLINES_LATER_CARD}</code> pays now; its saved token declines"
        " later</li>"
        "<li>Amounts of 5,000 or more are declined</li></ul></div>"
        f"<h1>{escape(low_profile.product_name or 'Payment')}</h1>"
        f'<p class="due">Amount to pay</p><p class="amount">{amount}</p>'
        '<form method="post" autocomplete="off">'
        + field("card_number", "Card number", extra='inputmode="numeric" required')
        + '<div class="row"><div>'
        + field("card_expiry", "Expiry (MM/YY)", extra='placeholder="MM/YY" required')
        + "</div><div>"
        + field("cvv", "CVV", extra='inputmode="numeric" required')
        + "</div></div>"
        + field("card_owner_name", "Card owner name" + optional)
        + field("card_owner_email", "Email" + optional, kind="email")
        + f'<button type="submit">Pay {amount}</button></form>'
        + cancel
    )
    return _document(f"Pay - {low_profile.product_name or 'Cardcom'}", body)


def _message_page(title: str, message: str, status: int) -> Response[str]:
    return _html(_document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"), status)


def _find(sandbox: Sandbox, terminal: int, low_profile_id: str) -> LowProfile | None:
    try:
        low_profile = sandbox.low_profile(low_profile_id)
    except UnknownLowProfile:
        return None
    return low_profile if low_profile.terminal_number == terminal else None


@get(PAGE_PATH, media_type=MediaType.HTML)
async def show_page(
    terminal: FromPath[int], low_profile_id: FromPath[str], sandbox: Sandbox
) -> Response[str]:
    """The payment form, or a notice when the page is unknown or already used."""
    low_profile = _find(sandbox, terminal, low_profile_id)
    if low_profile is None:
        return _message_page("Payment page not found", "This payment link is not valid.", 404)
    if low_profile.result is not None:
        return _message_page(
            "Already processed", "This payment page has already been submitted.", 409
        )
    return _html(render_form(low_profile, today=sandbox.today()))


@post(PAGE_PATH, media_type=MediaType.HTML)
async def submit_page(
    terminal: FromPath[int],
    low_profile_id: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: Sandbox,
) -> Response[str]:
    """Handle the form POST: 303 to the success or failure URL, or the form with errors."""
    low_profile = _find(sandbox, terminal, low_profile_id)
    if low_profile is None:
        return _message_page("Payment page not found", "This payment link is not valid.", 404)
    form = await request.form()
    values = {key: str(form.get(key) or "") for key in form}
    try:
        card = parse_card(
            values.get("card_number", ""),
            values.get("card_expiry", ""),
            values.get("cvv", ""),
            today=sandbox.today(),
        )
        outcome = sandbox.pay(
            low_profile.id,
            card,
            owner_name=values.get("card_owner_name") or None,
            owner_email=values.get("card_owner_email") or None,
        )
    except CardInputError as exc:
        page = render_form(
            low_profile, today=sandbox.today(), values=values, errors={exc.field: exc.message}
        )
        return _html(page, 422)
    except AlreadyProcessed:
        return _message_page(
            "Already processed", "This payment page has already been submitted.", 409
        )
    return Response(
        content="",
        status_code=303,
        headers={"Location": outcome.redirect_url},
        media_type=MediaType.HTML,
    )
