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


if __name__ == '__main__':
    if sys.argv[1] == 'draws':
        draws(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
              [float(r) for r in sys.argv[5:]])
    elif sys.argv[1] == 'report':
        sys.exit(1 if report(sys.argv[2], sys.argv[3]) else 0)
    else:
        sys.exit(__doc__)
