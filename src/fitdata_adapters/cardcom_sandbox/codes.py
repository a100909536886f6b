"""Response codes the sandbox answers with.

0, 603 and 608 are Cardcom's (providers.md §1.5). Cardcom documents no codes for "invalid
request" or "not found", and no v11 decline list; the sandbox picks readable ones
([INFERRED]) and uses SHVA-style numbers for declines.
"""

from __future__ import annotations

OK = 0
BAD_CREDENTIALS = 603
DUPLICATE_EXTERNAL_ID = 608

#: ``ErrorInfo.ResponseCode`` on an HTTP 400 answer.
INVALID_REQUEST = 400
#: Unknown LowProfileId, ExternalUniqTranId or token.
NOT_FOUND = 404

#: SHVA 001: blocked card (the always-declining test card).
DECLINE_BLOCKED_CARD = 1
#: SHVA 003: not approved (amount ≥ 5000, or a token from the "declines later" card).
DECLINE_NOT_APPROVED = 3
#: SHVA 015: expired card (or an expiry that does not match the token's card).
DECLINE_EXPIRED = 15
