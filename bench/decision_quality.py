#!/usr/bin/env python3
"""Helper of bench/decision_quality.sh.

  decision_quality.py draws SEED EXPERIMENTS MAX_SAMPLES RATE...
      CSV (rate, experiment, k, u) of seeded uniform draws: result k of
      experiment e at true rate r is a success when u < r.  Every rule sees
      the same draws (common random numbers), so the rules are compared on
      identical streams.

  decision_quality.py report OUTCOMES_CSV DRAWS_CSV
      Markdown table of the measured shares and mean samples (CSV of rule,
      rate, experiment, status, samples: one row per experiment the
      extension decided) next to the exact values of each rule, computed
      here independently of the extension's C code by dynamic programming
      over (samples, successes).  Each experiment is also replayed here on
      the same draws; the replay must reach the same verdict after the same
      number of samples.

  decision_quality.py watch-report OUTCOMES_CSV
      The watch after a threshold promotion (bar 0.7, 30 work orders):
      measured rollback shares per watch rule and true rate (CSV of rule,
      rate, watch, status, watched) next to the exact values, computed here
      by dynamic programming with this file's own implementation of the
      rules (below_bar; sprt of bar + 0.05 against bar - 0.15 with the final
      count calibrated exactly).

  decision_quality.py ab-report OUTCOMES_CSV
      A/B tests of prompt versions, 30 work orders per arm and look, up to
      4 looks, alpha 0.05: measured promotion shares and mean work orders
      per arm per rule and scenario (CSV of rule, scenario, candidate_rate,
      incumbent_rate, test, status, checkpoint, per_arm) next to exact
      values: dynamic programming over both arms' successes at each look,
      with Lan-DeMets boundaries computed here independently of the C code
      (recursive numerical integration, trapezoid rule on its own grid).

  decision_quality.py ab-watch-report OUTCOMES_CSV
      The watch after an A/B promotion (test: candidate 0.95 against
      incumbent 0.6 under lan_demets_obf; watch: 30 work orders at the
      watched rate): measured rollback shares per watch rule next to the
      exact values (the same dynamic programming, continued through the
      watch's looks from every promoting state).
"""
import csv
import math
import random
import sys

SAMPLE_SIZE = 30
CONFIDENCE = 0.7
SPRT_DELTA = 0.1
SPRT_ALPHA = 0.05
SPRT_BETA = 0.2
Z95 = 1.959963984540054


def wilson_lower(successes, n, z=Z95):
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, center - half)


def fixed_rule(passes):
    """Decision function of a fixed-sample rule with early rejection."""
    needed = next((k for k in range(SAMPLE_SIZE + 1) if passes(k, SAMPLE_SIZE)),
                  SAMPLE_SIZE + 1)

    def decide(s, n):
        if n >= SAMPLE_SIZE:
            return 'promote' if passes(s, n) else 'reject'
        if s + (SAMPLE_SIZE - n) < needed:
            return 'reject'
        return None
    return decide, SAMPLE_SIZE


def sprt_rule():
    p0, p1 = CONFIDENCE - SPRT_DELTA, CONFIDENCE + SPRT_DELTA
    upper = math.log((1 - SPRT_BETA) / SPRT_ALPHA)
    lower = math.log(SPRT_BETA / (1 - SPRT_ALPHA))
    max_n = 2 * SAMPLE_SIZE

    def decide(s, n):
        llr = s * math.log(p1 / p0) + (n - s) * math.log((1 - p1) / (1 - p0))
        if llr >= upper:
            return 'promote'
        if llr <= lower:
            return 'reject'
        if n >= max_n:
            return 'promote' if llr > 0 else 'reject'
        return None
    return decide, max_n


RULES = {
    'threshold': fixed_rule(lambda s, n: s / n >= CONFIDENCE),
    'wilson': fixed_rule(lambda s, n: wilson_lower(s, n) >= CONFIDENCE),
    'sprt': sprt_rule(),
}


def exact(rule, rate):
    """P(promote) and E[samples] of a rule at a true success rate."""
    decide, max_n = RULES[rule]
    undecided = {0: 1.0}            # successes -> probability, at n samples
    promote = 0.0
    expected_samples = 0.0
    for n in range(1, max_n + 1):
        following = {}
        for s, probability in undecided.items():
            for success, p in ((1, rate), (0, 1 - rate)):
                following[s + success] = following.get(s + success, 0.0) + probability * p
        undecided = {}
        for s, probability in following.items():
            verdict = decide(s, n)
            if verdict is None:
                undecided[s] = probability
                continue
            expected_samples += n * probability
            if verdict == 'promote':
                promote += probability
        if not undecided:
            break
    return promote, expected_samples


def draws(seed, experiments, max_samples, rates):
    generator = random.Random(seed)
    out = csv.writer(sys.stdout)
    for rate in rates:
        for experiment in range(1, experiments + 1):
            for k in range(1, max_samples + 1):
                out.writerow([rate, experiment, k, repr(generator.random())])


def replay(rule, rate, stream):
    """Verdict and samples of one experiment on its draws."""
    decide, max_n = RULES[rule]
    s = 0
    for n, u in enumerate(stream[:max_n], 1):
        s += u < rate
        verdict = decide(s, n)
        if verdict is not None:
            return ('promoted' if verdict == 'promote' else 'rejected'), n
    return 'running', max_n


def report(outcomes_path, draws_path):
    streams = {}
    with open(draws_path) as f:
        for rate, experiment, k, u in csv.reader(f):
            streams.setdefault((float(rate), int(experiment)), []).append((int(k), float(u)))
    streams = {key: [u for _, u in sorted(values)] for key, values in streams.items()}

    groups = {}
    disagreements = 0
    with open(outcomes_path) as f:
        for row in csv.DictReader(f):
            rate = float(row['rate'])
            key = (row['rule'], rate)
            group = groups.setdefault(key, [0, 0, 0])
            group[0] += 1
            group[1] += row['status'] == 'promoted'
            group[2] += int(row['samples'])
            if replay(row['rule'], rate, streams[(rate, int(row['experiment']))]) != \
                    (row['status'], int(row['samples'])):
                disagreements += 1

    order = list(RULES)
    print('| rule | true rate | promoted (measured) | exact | mean samples (measured) | exact |')
    print('|---|---|---|---|---|---|')
    for rule, rate in sorted(groups, key=lambda key: (order.index(key[0]), key[1])):
        n, promoted, samples = groups[(rule, rate)]
        share = promoted / n
        standard_error = math.sqrt(share * (1 - share) / n)
        p, expected_samples = exact(rule, rate)
        print(f"| {rule} | {rate:.1f} | {100 * share:.1f}% ± {100 * standard_error:.1f} "
              f"| {100 * p:.1f}% | {samples / n:.1f} | {expected_samples:.1f} |")
    print()
    print(f'experiments whose verdict or sample count differs from the replay: {disagreements}')
    return disagreements



# ---------------------------------------------------------------------------
# Normal distribution and group-sequential boundaries, written here apart
# from src/stats.c (a trapezoid rule on its own grid instead of Simpson's).
# ---------------------------------------------------------------------------
def upper_tail(z):
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def upper_quantile(p):
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        if upper_tail(middle) > p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def spending(shape, alpha, t):
    if t >= 1:
        return alpha
    if shape == 'pocock':
        return alpha * math.log(1 + (math.e - 1) * t)
    return 2 * upper_tail(upper_quantile(alpha / 2) / math.sqrt(t))


GRID = 801
_boundary_cache = {}


def boundaries(shape, alpha, fractions):
    """Lan-DeMets boundaries on z at the fractions (one-sided)."""
    key = (shape, alpha, tuple(fractions))
    if key in _boundary_cache:
        return _boundary_cache[key]
    result = []
    grid = None                 # (points, weighted density) of continuing paths
    previous_t = 0.0
    for k, t in enumerate(fractions):
        sd = math.sqrt(t - previous_t)
        spend = spending(shape, alpha, t) - (spending(shape, alpha, previous_t) if k else 0.0)

        def cross(b):
            upper = b * math.sqrt(t)
            if grid is None:
                return upper_tail(upper / sd)
            return sum(w * upper_tail((upper - x) / sd) for x, w in grid)
        low, high = -10.0, 40.0
        for _ in range(60):
            middle = (low + high) / 2
            if cross(middle) > spend:
                low = middle
            else:
                high = middle
        b = (low + high) / 2
        result.append(b)
        if k + 1 < len(fractions):
            top = min(b * math.sqrt(t), 10 * math.sqrt(t))
            bottom = -10 * math.sqrt(t)
            h = (top - bottom) / (GRID - 1)
            points = [bottom + h * i for i in range(GRID)]
            new = []
            for i, y in enumerate(points):
                if grid is None:
                    density = math.exp(-0.5 * (y / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
                else:
                    density = sum(w * math.exp(-0.5 * ((y - x) / sd) ** 2) for x, w in grid) \
                        / (sd * math.sqrt(2 * math.pi))
                weight = h / 2 if i in (0, GRID - 1) else h
                new.append((y, density * weight))
            grid = new
        previous_t = t
    _boundary_cache[key] = result
    return result


def pooled_z(sa, na, sb, nb):
    """z of "a is better (higher) than b", as the extension computes it."""
    if na <= 0 or nb <= 0:
        return 0.0
    pooled = (sa + sb) / (na + nb)
    if pooled <= 0 or pooled >= 1:
        return 0.0
    return (sa / na - sb / nb) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))


def binomial(n, p):
    return [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def share(rows, predicate):
    n = len(rows)
    hits = sum(1 for row in rows if predicate(row))
    value = hits / n if n else 0.0
    return value, math.sqrt(value * (1 - value) / n) if n else 0.0


# ---------------------------------------------------------------------------
# The watch after a threshold promotion
# ---------------------------------------------------------------------------
WATCH_SIZE = 30
WATCH_ABOVE, WATCH_BELOW, WATCH_ALPHA, WATCH_BETA = 0.05, 0.15, 0.05, 0.2


def watch_rule(rule, bar=CONFIDENCE, size=WATCH_SIZE):
    """Decision function (successes, n) -> 'rollback' / 'keep' / None."""
    if rule == 'below_bar':
        return lambda s, n: None if n < size else ('keep' if s / n >= bar else 'rollback')
    good, bad = bar + WATCH_ABOVE, bar - WATCH_BELOW
    upper = math.log((1 - WATCH_BETA) / WATCH_ALPHA)

    def early(s, n):
        return s * math.log(bad / good) + (n - s) * math.log((1 - bad) / (1 - good)) >= upper - 1e-9
    # Final count: the largest k whose rollbacks (early or final) keep the
    # exact error at `good` at most alpha.
    dist = {0: 1.0}
    error = 0.0
    for n in range(1, size + 1):
        new = {}
        for s, q in dist.items():
            new[s + 1] = new.get(s + 1, 0) + q * good
            new[s] = new.get(s, 0) + q * (1 - good)
        dist = {}
        for s, q in new.items():
            if early(s, n):
                error += q
            else:
                dist[s] = q
    final = -1
    for s in range(size + 1):
        if error + dist.get(s, 0.0) > WATCH_ALPHA + 1e-12:
            break
        error += dist.get(s, 0.0)
        final = s

    def decide(s, n):
        if early(s, n):
            return 'rollback'
        if n < size:
            return None
        return 'rollback' if s <= final else 'keep'
    return decide


def watch_exact(rule, rate):
    decide = watch_rule(rule)
    dist = {0: 1.0}
    rollback = 0.0
    expected = 0.0
    for n in range(1, WATCH_SIZE + 1):
        new = {}
        for s, q in dist.items():
            new[s + 1] = new.get(s + 1, 0) + q * rate
            new[s] = new.get(s, 0) + q * (1 - rate)
        dist = {}
        for s, q in new.items():
            verdict = decide(s, n)
            if verdict is None:
                dist[s] = q
                continue
            expected += n * q
            if verdict == 'rollback':
                rollback += q
    return rollback, expected


def watch_report(outcomes_path):
    rows = read_csv(outcomes_path)
    groups = {}
    for row in rows:
        groups.setdefault((row['rule'], float(row['rate'])), []).append(row)
    print('| watch rule | true rate | | rolled back (measured) | exact | mean work orders watched (measured) | exact |')
    print('|---|---|---|---|---|---|---|')
    for rule, rate in sorted(groups, key=lambda key: (key[0] != 'below_bar', key[1])):
        members = groups[(rule, rate)]
        measured, error = share(members, lambda row: row['status'] == 'rolled_back')
        watched = sum(int(row['watched']) for row in members) / len(members)
        exact_share, exact_watched = watch_exact(rule, rate)
        offset = round(100 * (rate - CONFIDENCE))
        label = 'bar' if offset == 0 else f'bar {offset:+d}'
        print(f'| {rule} | {rate:.2f} | {label} | {100 * measured:.1f}% ± {100 * error:.1f} '
              f'| {100 * exact_share:.1f}% | {watched:.1f} | {exact_watched:.1f} |')


# ---------------------------------------------------------------------------
# A/B tests of prompt versions and the watch after a promotion
# ---------------------------------------------------------------------------
AB_SIZE, AB_LOOKS, AB_ALPHA = 30, 4, 0.05


def ab_crosses(rule, z, look):
    if rule == 'fixed_alpha':
        return upper_tail(z) < AB_ALPHA
    shape = 'pocock' if rule == 'lan_demets_pocock' else 'obrien_fleming'
    fractions = [(k + 1) / AB_LOOKS for k in range(AB_LOOKS)]
    return z >= boundaries(shape, AB_ALPHA, fractions)[look - 1]


def ab_exact(rule, candidate_rate, incumbent_rate):
    """P(promote), E[work orders per arm], and the promoting states
    (look, candidate successes, incumbent successes) -> probability."""
    step_c = binomial(AB_SIZE, candidate_rate)
    step_i = binomial(AB_SIZE, incumbent_rate)
    dist = {(0, 0): 1.0}
    promote = 0.0
    per_arm = 0.0
    promoted = {}
    for look in range(1, AB_LOOKS + 1):
        half = {}
        for (a, b), q in dist.items():
            for x, px in enumerate(step_c):
                half[(a + x, b)] = half.get((a + x, b), 0.0) + q * px
        full = {}
        for (a, b), q in half.items():
            for y, py in enumerate(step_i):
                full[(a, b + y)] = full.get((a, b + y), 0.0) + q * py
        n = look * AB_SIZE
        dist = {}
        for (a, b), q in full.items():
            if a > b and ab_crosses(rule, pooled_z(a, n, b, n), look):
                promote += q
                per_arm += n * q
                promoted[(look, a, b)] = q
            elif a > b and look < AB_LOOKS:
                dist[(a, b)] = q
            else:
                per_arm += n * q
    return promote, per_arm, promoted


def ab_watch_looks(rule, size=AB_SIZE):
    if rule == 'fixed_alpha':
        return [size]
    looks = []
    for j in range(1, 5):
        m = -(-j * size // 4)
        if m >= 1 and (not looks or looks[-1] != m):
            looks.append(m)
    return looks


def ab_watch_rollback(rule, watched_rate, incumbent_successes, incumbent_n, size=AB_SIZE):
    """P(rollback) and E[work orders watched] given the incumbent's numbers."""
    looks = ab_watch_looks(rule, size)
    if rule != 'fixed_alpha':
        bounds = boundaries('pocock', AB_ALPHA, [m / size for m in looks])
    dist = {0: 1.0}
    done = 0
    rollback = 0.0
    expected = 0.0
    for j, m in enumerate(looks):
        step = binomial(m - done, watched_rate)
        new = {}
        for s, q in dist.items():
            for x, px in enumerate(step):
                new[s + x] = new.get(s + x, 0.0) + q * px
        dist = {}
        for s, q in new.items():
            z = pooled_z(incumbent_successes, incumbent_n, s, m)
            worse = upper_tail(z) < AB_ALPHA if rule == 'fixed_alpha' else z >= bounds[j]
            if worse:
                rollback += q
                expected += m * q
            elif j + 1 == len(looks):
                expected += m * q
            else:
                dist[s] = q
        done = m
    return rollback, expected


AB_WATCH_TEST = ('lan_demets_obf', 0.95, 0.6)


def ab_watch_exact(rule, watched_rate):
    test_rule, candidate_rate, incumbent_rate = AB_WATCH_TEST
    promote, _, promoted = ab_exact(test_rule, candidate_rate, incumbent_rate)
    rollback = 0.0
    expected = 0.0
    for (look, _, b), q in promoted.items():
        r, e = ab_watch_rollback(rule, watched_rate, b, look * AB_SIZE)
        rollback += q * r
        expected += q * e
    return rollback / promote, expected / promote


def ab_report(outcomes_path):
    rows = read_csv(outcomes_path)
    groups = {}
    for row in rows:
        groups.setdefault((row['rule'], float(row['candidate_rate']), float(row['incumbent_rate'])), []).append(row)
    order = ['fixed_alpha', 'lan_demets_obf', 'lan_demets_pocock']
    print('| rule | incumbent → candidate | promoted (measured) | exact | mean work orders per arm (measured) | exact |')
    print('|---|---|---|---|---|---|')
    for key in sorted(groups, key=lambda key: (order.index(key[0]), key[1])):
        rule, candidate_rate, incumbent_rate = key
        members = groups[key]
        measured, error = share(members, lambda row: row['status'] in ('watching', 'promoted'))
        per_arm = sum(int(row['per_arm']) for row in members) / len(members)
        exact_promote, exact_per_arm, _ = ab_exact(rule, candidate_rate, incumbent_rate)
        print(f'| {rule} | {incumbent_rate:.1f} → {candidate_rate:.1f} '
              f'| {100 * measured:.1f}% ± {100 * error:.1f} | {100 * exact_promote:.1f}% '
              f'| {per_arm:.1f} | {exact_per_arm:.1f} |')
    for shape, name in (('obrien_fleming', "O'Brien-Fleming"), ('pocock', 'Pocock')):
        b = boundaries(shape, AB_ALPHA, [0.25, 0.5, 0.75, 1.0])
        print(f'\nLan-DeMets {name}-type boundaries on z at alpha 0.05, looks at 1/4..4/4 '
              f'(computed here): ' + ', '.join(f'{x:.3f}' for x in b))


def ab_watch_report(outcomes_path):
    rows = read_csv(outcomes_path)
    groups = {}
    for row in rows:
        groups.setdefault((row['rule'], float(row['rate'])), []).append(row)
    print('| watch rule | watched rate (incumbent 0.6) | rolled back (measured) | exact | mean work orders watched (measured) | exact |')
    print('|---|---|---|---|---|---|')
    for rule, rate in sorted(groups, key=lambda key: (key[0] != 'fixed_alpha', -key[1])):
        members = [row for row in groups[(rule, rate)] if row['status'] in ('promoted', 'rolled_back')]
        measured, error = share(members, lambda row: row['status'] == 'rolled_back')
        watched = sum(int(row['watched']) for row in members) / max(len(members), 1)
        exact_share, exact_watched = ab_watch_exact(rule, rate)
        print(f'| {rule} | {rate:.2f} | {100 * measured:.1f}% ± {100 * error:.1f} '
              f'| {100 * exact_share:.1f}% | {watched:.1f} | {exact_watched:.1f} |')
    print(f'\n(watches of tests that were promoted: {sum(1 for row in rows if row["status"] in ("promoted", "rolled_back"))} of {len(rows)})')

if __name__ == '__main__':
    if sys.argv[1] == 'draws':
        draws(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
              [float(r) for r in sys.argv[5:]])
    elif sys.argv[1] == 'report':
        sys.exit(1 if report(sys.argv[2], sys.argv[3]) else 0)
    elif sys.argv[1] == 'watch-report':
        watch_report(sys.argv[2])
    elif sys.argv[1] == 'ab-report':
        ab_report(sys.argv[2])
    elif sys.argv[1] == 'ab-watch-report':
        ab_watch_report(sys.argv[2])
    elif sys.argv[1] == 'exact':
        for rule in ('below_bar', 'sprt'):
            for rate in (0.7, 0.75, 0.8, 0.55):
                print(rule, rate, watch_exact(rule, rate))
        for rule in ('fixed_alpha', 'lan_demets_obf', 'lan_demets_pocock'):
            for rates in ((0.6, 0.6), (0.7, 0.6), (0.8, 0.6)):
                print(rule, rates, ab_exact(rule, *rates)[:2])
        for rule in ('fixed_alpha', 'lan_demets_pocock'):
            for rate in (0.6, 0.45):
                print('watch', rule, rate, ab_watch_exact(rule, rate))
    else:
        sys.exit(__doc__)
