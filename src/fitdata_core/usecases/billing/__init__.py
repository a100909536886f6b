"""Platform billing use cases: checkout, activation, status, cancellation and the sweeps.

The HTTP layer calls the actor-facing functions; the workers run the sweeps
(:func:`run_renewals`, :func:`reconcile`, :func:`expire_stale`, each taking
``(svc, as_of=None, *, scheduled=...)``; pass ``scheduled=True`` so the kill switch
``BillingPolicy.schedule_enabled`` applies) under the names in :mod:`fitdata_core.job_names`.
"""

from fitdata_core.usecases.billing.activation import (
    ActivationOutcome,
    apply_checkout_result,
    settle_checkout,
)
from fitdata_core.usecases.billing.cancellation import (
    cancel_subscription,
    change_tier,
    force_cancel,
    resume_subscription,
)
from fitdata_core.usecases.billing.checkout import CheckoutSession, start_checkout
from fitdata_core.usecases.billing.expiry import ExpiryReport, expire_stale
from fitdata_core.usecases.billing.reconciler import (
    HUNG_MESSAGE,
    ReconcileOutcome,
    ReconcileReport,
    reconcile,
)
from fitdata_core.usecases.billing.renewals import (
    RenewalOutcome,
    RenewalReport,
    renew_subscription,
    run_renewals,
)
from fitdata_core.usecases.billing.status import (
    BillingStatus,
    billing_status,
    get_billing_status,
    list_events,
    list_transactions,
)
from fitdata_core.usecases.billing.webhook import (
    CheckoutVerification,
    handle_webhook,
    verify_checkout,
)

# `resume` is the name the HTTP routes use.
resume = resume_subscription

__all__ = [
    "HUNG_MESSAGE",
    "ActivationOutcome",
    "BillingStatus",
    "CheckoutSession",
    "CheckoutVerification",
    "ExpiryReport",
    "ReconcileOutcome",
    "ReconcileReport",
    "RenewalOutcome",
    "RenewalReport",
    "apply_checkout_result",
    "billing_status",
    "cancel_subscription",
    "change_tier",
    "expire_stale",
    "force_cancel",
    "get_billing_status",
    "handle_webhook",
    "list_events",
    "list_transactions",
    "reconcile",
    "renew_subscription",
    "resume",
    "resume_subscription",
    "run_renewals",
    "settle_checkout",
    "start_checkout",
    "verify_checkout",
]
