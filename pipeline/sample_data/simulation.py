"""The quarter-by-quarter simulation: onboarding, renewals and churn, seat expansion, upgrades,
cross-sell, contraction and product churn per product line, then the open pipeline at the data
end and the accounts' ACV on a day."""

from __future__ import annotations

import numpy as np

from pipeline.sample_data.catalog import (
    ACCOUNT_CHURN_LOGIT,
    CONTRACTION_LOGIT,
    EXPANSION,
    LOST,
    NEW_LOGO,
    OPEN,
    OPEN_PIPELINE_LOGIT,
    PRODUCT_CHURN_LOGIT,
    PRODUCT_LINES,
    RENEWAL,
    SEAT_EXPANSION_LOGIT,
    SEAT_LINES,
    UPGRADE_LOGIT,
    WIN_LOGIT,
    WON,
    WORKSPACE,
)
from pipeline.sample_data.holdings import Holdings, Ledger, SimulationState, Step, opening_seats, price
from pipeline.sample_data.population import NO_DAY, Calendar, Population

QUARTER_DAYS = 365.25 / 4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _per_step(p_quarter: np.ndarray, step_days: int) -> np.ndarray:
    """Probability over a step of `step_days` from a per-quarter probability."""
    return 1.0 - (1.0 - p_quarter) ** (step_days / QUARTER_DAYS)


def simulate(rng: np.random.Generator, pop: Population, cal: Calendar
             ) -> tuple[Holdings, Ledger, np.ndarray, SimulationState, SimulationState]:
    """Run the company step by step from the history start to the data end; return the holdings
    and customers at the data end, the ledger (lines still open included) and copies of the
    state on the plan date and at the data end (for the truth, ``pipeline.sample_data.truth``)."""
    holdings, ledger = Holdings.empty(pop.n), Ledger()
    alive = pop.since < cal.start
    _onboard(rng, pop, holdings, np.flatnonzero(alive), cal, before_history=True)
    at_plan = None
    for t0, t1 in cal.steps:
        if t0 == cal.as_of:
            at_plan = SimulationState(holdings, alive, t0).copy()
        simulate_step(rng, pop, holdings, ledger, alive, t0, t1, cal)
    at_end = SimulationState(holdings, alive, cal.end).copy()
    holdings.record_open_lines(ledger)
    return holdings, ledger, alive, at_plan or at_end, at_end


def _onboard(rng: np.random.Generator, pop: Population, h: Holdings, acc: np.ndarray, cal: Calendar,
             before_history: bool) -> None:
    """Open the first lines of customers: a workspace tier by size, other lines by fit and
    propensity. Customers from before the history hold more, on lines started up to 18 months
    before the history start."""
    m = len(acc)
    tenure = 0.8 if before_history else 0.0
    for i, line in enumerate(PRODUCT_LINES):
        day = np.maximum(pop.since[acc], cal.start - rng.integers(1, 541, m)) if before_history else pop.since[acc]
        if i == WORKSPACE:
            size = np.log10(pop.employees[acc]) + 0.3 * rng.standard_normal(m)
            holds, tier = np.ones(m, bool), (size >= 2.3).astype(np.int64) + (size >= 2.85)
        else:
            holds = rng.random(m) < _sigmoid(line.initial + pop.fit[acc, i] + 0.5 * pop.propensity[acc] + tenure)
            tier = (rng.random(m) < 0.2).astype(np.int64) * (len(line.products) > 1)
        product = line.products[0] + tier
        seats = opening_seats(rng, pop, acc, i, day, (0.45, 0.95))
        a = acc[holds]
        h.begin(a, i, product[holds], seats[holds], price(pop, a, product[holds], seats[holds]), day[holds])


def simulate_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, alive: np.ndarray,
                   t0: int, t1: int, cal: Calendar) -> None:
    """One step: renewals and churn, expansion conversations and losses per product line, then
    the step's new customers (who start acting in the next step)."""
    step = Step(t0, t1, np.full(pop.n, -1, np.int64), np.zeros(pop.n))
    renewing, acv_before = _renewals(rng, pop, h, ledger, alive, step)
    active = np.flatnonzero(alive)
    for line in range(len(PRODUCT_LINES)):
        held = h.product[active, line] >= 0
        if line in SEAT_LINES:
            _seat_line_step(rng, pop, h, ledger, step, active[held], line)
        else:
            _flat_line_step(rng, pop, h, ledger, step, active[held], line)
        if line != WORKSPACE:
            _cross_sell_step(rng, pop, h, ledger, step, active[~held], line)
    day = step.renewal_day[renewing]
    ledger.opportunity(renewing, -1, RENEWAL, day - rng.integers(45, 121, len(renewing)), day, WON,
                       acv_before + step.change_before_renewal[renewing])
    new = np.flatnonzero((pop.since >= t0) & (pop.since < t1))
    _onboard(rng, pop, h, new, cal, before_history=False)
    since = pop.since[new]
    ledger.opportunity(new, h.product[new, WORKSPACE], NEW_LOGO, since - rng.integers(30, 181, len(new)), since,
                       WON, h.arr[new].sum(axis=1))
    alive[new] = True


def _renewals(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, alive: np.ndarray,
              step: Step) -> tuple[np.ndarray, np.ndarray]:
    """Customers whose contract anniversary falls in the step renew or churn. Churners end all
    lines on the anniversary (a lost renewal) and leave `alive`. Sets the renewers' renewal day
    in `step`; returns the renewers and their ACV at the step start."""
    day = pop.anniversary.between(step.t0, step.t1)
    due = np.flatnonzero(alive & (day >= 0))
    acv = h.arr[due].sum(axis=1)
    utilisation = pop.users_on(due, WORKSPACE, step.t0) / h.seats[due, WORKSPACE]
    logit = (ACCOUNT_CHURN_LOGIT - 0.8 * pop.propensity[due] - 4.0 * np.minimum(utilisation - 0.55, 0)
             - 0.3 * (np.log10(pop.employees[due]) - 2))
    churn = rng.random(len(due)) < _sigmoid(logit)
    lost = due[churn]
    for line in range(len(PRODUCT_LINES)):
        held = lost[h.product[lost, line] >= 0]
        h.end(ledger, held, line, day[held])
    ledger.opportunity(lost, -1, RENEWAL, day[lost] - rng.integers(45, 121, len(lost)), day[lost], LOST, acv[churn])
    alive[lost] = False
    renewing = due[~churn]
    step.renewal_day[renewing] = day[renewing]
    return renewing, acv[~churn]


def _seat_line_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                    acc: np.ndarray, line: int) -> None:
    """Accounts holding a seat line: seat-expansion or upgrade conversations (likelier with high
    utilisation and propensity), or contraction / product churn when utilisation is low."""
    z = pop.propensity[acc]
    utilisation = pop.users_on(acc, line, step.t0) / h.seats[acc, line]
    top = h.product[acc, line] == PRODUCT_LINES[line].products[-1]
    room = h.seats[acc, line] < pop.seat_ceiling[acc]
    p_seats = room * _per_step(_sigmoid(SEAT_EXPANSION_LOGIT + 0.9 * z + 2.5 * (utilisation - 0.85)), step.days)
    p_upgrade = np.where(top, 0.0, _per_step(_sigmoid(
        UPGRADE_LOGIT + 0.6 * z + 0.5 * (np.log10(pop.employees[acc]) - 2) + 1.2 * (utilisation - 0.8)), step.days))
    p_down = _per_step(_sigmoid(CONTRACTION_LOGIT - 0.6 * z - 6.0 * (utilisation - 0.45)), step.days)
    u = rng.random(len(acc))
    day = rng.integers(step.t0, step.t1, len(acc))
    win_logit = 0.8 * z + 3.0 * (utilisation - 0.8)
    for kind, chosen in (("seats", u < p_seats), ("upgrade", (u >= p_seats) & (u < p_seats + p_upgrade))):
        _conversations(rng, pop, h, ledger, step, acc[chosen], line, kind, day[chosen],
                       WIN_LOGIT[kind] + win_logit[chosen])
    down = (u >= p_seats + p_upgrade) & (u < p_seats + p_upgrade + p_down)
    if line == WORKSPACE:
        _contract(rng, pop, h, ledger, step, acc[down], line, day[down])
    else:
        _drop(h, ledger, step, acc[down], line, day[down])


def _flat_line_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                    acc: np.ndarray, line: int) -> None:
    """Accounts holding a flat add-on may drop it (less often with high propensity)."""
    p_drop = _per_step(_sigmoid(PRODUCT_CHURN_LOGIT - 0.6 * pop.propensity[acc]), step.days)
    drop = rng.random(len(acc)) < p_drop
    _drop(h, ledger, step, acc[drop], line, rng.integers(step.t0, step.t1, len(acc))[drop])


def _cross_sell_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                     acc: np.ndarray, line: int) -> None:
    """Accounts without the line: cross-sell conversations, likelier with fit, propensity and
    workspace utilisation."""
    z, fit = pop.propensity[acc], pop.fit[acc, line]
    utilisation = pop.users_on(acc, WORKSPACE, step.t0) / h.seats[acc, WORKSPACE]
    p_talk = _per_step(_sigmoid(PRODUCT_LINES[line].cross_sell + 0.7 * z + fit + 1.0 * (utilisation - 0.8)),
                       step.days)
    talk = rng.random(len(acc)) < p_talk
    win_logit = WIN_LOGIT["cross_sell"] + 0.7 * z + 0.4 * fit + 1.5 * (utilisation - 0.8)
    _conversations(rng, pop, h, ledger, step, acc[talk], line, "cross_sell",
                   rng.integers(step.t0, step.t1, len(acc))[talk], win_logit[talk])


def _proposal(rng: np.random.Generator, pop: Population, h: Holdings, acc: np.ndarray, line: int, kind: str,
              day: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What an expansion deal sells: product, seats, the line's new ARR and the ARR added.
    seats: enough for the users plus headroom (within the seat ceiling, at least one more seat);
    upgrade: the next tier for the seats held;
    cross_sell: the line's entry product (20% the next tier) sized to its users."""
    m = len(acc)
    if kind == "cross_sell":
        ladder = PRODUCT_LINES[line].products
        product = ladder[0] + (rng.random(m) < 0.2).astype(np.int64) * (len(ladder) > 1)
        seats = opening_seats(rng, pop, acc, line, np.broadcast_to(day, m), (0.55, 0.95))
        old_arr = np.zeros(m)
    else:
        held, seats, old_arr = h.product[acc, line], h.seats[acc, line], h.arr[acc, line]
        product = held + 1 if kind == "upgrade" else held
        if kind == "seats":
            wanted = np.ceil(pop.users_on(acc, line, day) * rng.uniform(1.1, 1.5, m)).astype(np.int64)
            wanted = np.maximum(seats + np.maximum(1, np.ceil(0.05 * seats).astype(np.int64)), wanted)
            seats = np.maximum(np.minimum(wanted, pop.seat_ceiling[acc]), seats + 1)
    arr = price(pop, acc, product, seats)
    return product, seats, arr, np.maximum(np.round(arr - old_arr, 2), 0.0)


def _conversations(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                   acc: np.ndarray, line: int, kind: str, day: np.ndarray, win_logit: np.ndarray) -> None:
    """Expansion opportunities closing on `day`: won ones replace the line, lost ones change nothing."""
    product, seats, arr, amount = _proposal(rng, pop, h, acc, line, kind, day)
    won = rng.random(len(acc)) < _sigmoid(win_logit)
    created = np.maximum(day - rng.integers(20, 151, len(acc)), pop.since[acc])
    ledger.opportunity(acc, product, EXPANSION, created, day, np.where(won, WON, LOST), amount)
    _replace(h, ledger, step, acc[won], line, product[won], seats[won], arr[won], day[won])


def _replace(h: Holdings, ledger: Ledger, step: Step, acc: np.ndarray, line: int, product: np.ndarray,
             seats: np.ndarray, arr: np.ndarray, day: np.ndarray) -> None:
    """End the held line (if any) and start the new one on the same day."""
    held = h.product[acc, line] >= 0
    step.record(acc, arr - h.arr[acc, line], day)
    h.end(ledger, acc[held], line, day[held])
    h.begin(acc, line, product, seats, arr, day)


def _contract(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
              acc: np.ndarray, line: int, day: np.ndarray) -> None:
    """Cut seats down to the users (at 80-95% utilisation) where that is fewer seats."""
    wanted = pop.users_on(acc, line, day) / rng.uniform(0.8, 0.95, len(acc))
    seats = np.maximum(np.ceil(wanted), 1).astype(np.int64)
    fewer = seats < h.seats[acc, line]
    acc, seats, day = acc[fewer], seats[fewer], day[fewer]
    product = h.product[acc, line]
    _replace(h, ledger, step, acc, line, product, seats, price(pop, acc, product, seats), day)


def _drop(h: Holdings, ledger: Ledger, step: Step, acc: np.ndarray, line: int, day: np.ndarray) -> None:
    """End a product line without a successor (product churn)."""
    step.record(acc, -h.arr[acc, line], day)
    h.end(ledger, acc, line, day)


def open_pipeline(rng: np.random.Generator, pop: Population, cal: Calendar, h: Holdings, ledger: Ledger,
                   alive: np.ndarray, assigned: np.ndarray) -> None:
    """Open deals at the data end: an expansion deal on about a fifth of the assigned customers
    (likelier with propensity and utilisation) and the renewals already in the CRM."""
    acc = np.flatnonzero(alive & assigned)
    utilisation = pop.users_on(acc, WORKSPACE, cal.end) / h.seats[acc, WORKSPACE]
    acc = acc[rng.random(len(acc)) < _sigmoid(OPEN_PIPELINE_LOGIT + 0.6 * pop.propensity[acc]
                                                   + 1.5 * (utilisation - 0.8))]
    score = pop.fit[acc] + rng.gumbel(size=(len(acc), len(PRODUCT_LINES)))
    score[(h.product[acc] >= 0) | (np.arange(len(PRODUCT_LINES)) == WORKSPACE)] = -np.inf
    cross_line = np.argmax(score, axis=1)
    can_cross = np.isfinite(score.max(axis=1))
    can_upgrade = h.product[acc, WORKSPACE] < PRODUCT_LINES[WORKSPACE].products[-1]
    choice = rng.random(len(acc))
    upgrade = can_upgrade & (choice < 0.3)
    cross = can_cross & (choice >= 0.65)
    deals = [(acc[upgrade], WORKSPACE, "upgrade"), (acc[~upgrade & ~cross], WORKSPACE, "seats")]
    deals += [(acc[cross & (cross_line == line)], line, "cross_sell") for line in range(len(PRODUCT_LINES))]
    for deal_acc, line, kind in deals:
        product, _, _, amount = _proposal(rng, pop, h, deal_acc, line, kind, cal.end)
        created = np.maximum(cal.end - rng.integers(1, 151, len(deal_acc)), pop.since[deal_acc])
        ledger.opportunity(deal_acc, product, EXPANSION, created, NO_DAY, OPEN, amount)
    customers = np.flatnonzero(alive)
    created = pop.anniversary[customers].next_after(cal.end - 1) - rng.integers(45, 121, len(customers))
    renewing = customers[created < cal.end]
    ledger.opportunity(renewing, -1, RENEWAL, created[created < cal.end], NO_DAY, OPEN,
                       h.arr[renewing].sum(axis=1))


def acv_on(lines: dict[str, np.ndarray], n: int, day: int) -> np.ndarray:
    """Each account's ACV on a day: ARR of the lines with start <= day < end."""
    active = (lines["start"] <= day) & (lines["end"] > day)
    return np.round(np.bincount(lines["account"][active], lines["arr"][active], minlength=n), 2)

