"""Derives the polynomial coefficients used by assembly/math.ts.

Each fit is a weighted least-squares fit on Chebyshev nodes (close to minimax), done in
mpmath at 50 digits, then checked by evaluating the f32 kernel formula in numpy float32
against mpmath. Run: python3 scripts/fit_coeffs.py (needs numpy + mpmath; not needed to build).
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 50


def fit(f, a, b, basis, weight, nodes=400):
    xs = [mp.mpf(a) + (mp.mpf(b) - a) * (1 - mp.cos(mp.pi * (i + 0.5) / nodes)) / 2 for i in range(nodes)]
    A = mp.matrix(len(xs), len(basis))
    y = mp.matrix(len(xs), 1)
    for i, x in enumerate(xs):
        w = weight(x)
        for j, g in enumerate(basis):
            A[i, j] = g(x) * w
        y[i] = f(x) * w
    # normal equations via QR (mpmath lu_solve on least squares)
    c = mp.qr_solve(A, y)[0]
    return [c[j] for j in range(len(basis))]


def f32(v):
    return np.float32(float(v))


def horner(cs, x):
    acc = np.float32(cs[-1])
    for c in reversed(cs[:-1]):
        acc = np.float32(acc * x + np.float32(c))
    return acc


# exp(r) on |r| <= ln2/2: 1 + r + r^2 * P(r), P of degree 4
ln2 = mp.log(2)
pe = fit(lambda r: (mp.exp(r) - 1 - r) / r**2 if r != 0 else mp.mpf(0.5), -ln2 / 2, ln2 / 2,
         [lambda r, k=k: r**k for k in range(5)], lambda r: r**2 / mp.exp(r))
print("exp P:", [float(c) for c in pe])

# tanh(x) on |x| <= 0.625: x + x^3 * P(x^2), P of degree 4
pt = fit(lambda s: (mp.tanh(mp.sqrt(s)) - mp.sqrt(s)) / (s * mp.sqrt(s)) if s != 0 else mp.mpf(-1) / 3, 0, 0.625**2,
         [lambda s, k=k: s**k for k in range(5)], lambda s: s * mp.sqrt(s) / mp.tanh(mp.sqrt(s)) if s != 0 else 1)
print("tanh P:", [float(c) for c in pt])

# erf(z) on |z| <= 0.9: z * P(z^2), P of degree 6
pf = fit(lambda s: mp.erf(mp.sqrt(s)) / mp.sqrt(s) if s != 0 else 2 / mp.sqrt(mp.pi), 0, 0.81,
         [lambda s, k=k: s**k for k in range(7)], lambda s: 1 / (mp.erf(mp.sqrt(s)) / mp.sqrt(s) if s != 0 else 2 / mp.sqrt(mp.pi)))
print("erf P:", [float(c) for c in pf])

# erfc(z) for z >= 0.45: exp(-z^2) * t * Q(t), t = 1 / (1 + z / 2), Q of degree 10 in t on t in (0, 1/1.225]
tmax = 1 / (1 + mp.mpf("0.45") / 2)
def g(t):
    if t == 0:
        return 1 / (2 * mp.sqrt(mp.pi))  # limit: erfc(z) e^{z^2} ~ 1/(z sqrt(pi)), t ~ 2/z
    z = 2 * (1 / t - 1)
    return mp.erfc(z) * mp.exp(z * z) / t
pq = fit(g, 0, tmax, [lambda t, k=k: t**k for k in range(11)], lambda t: 1 / g(t))
print("erfc Q:", [float(c) for c in pq])

for name, cs in (("EXP", pe), ("TANH", pt), ("ERF", pf), ("ERFC", pq)):
    print(name, ", ".join(repr(float(f32(c))) for c in cs))

# check the f32 evaluation
def exp32(x):
    x = np.float32(x)
    n = np.float32(np.round(np.float32(x * np.float32(1.4426950408889634))))
    r = np.float32(x - n * np.float32(0.693145751953125))
    r = np.float32(r - n * np.float32(1.428606765330187e-06))
    p = horner([f32(c) for c in pe], r)
    p = np.float32(np.float32(r * r) * p + r)
    p = np.float32(p + np.float32(1))
    return np.float32(p * np.float32(2.0) ** int(n))

worst = 0
for x in np.linspace(-87, 88, 200001, dtype=np.float32):
    e = mp.exp(mp.mpf(float(x)))
    got = exp32(x)
    ulp = np.spacing(np.float32(float(e)))
    worst = max(worst, abs(float(got) - float(e)) / float(ulp))
print("exp worst ulp", worst)

def erfc32(z):
    z = np.float32(z)
    t = np.float32(np.float32(1) / np.float32(np.float32(1) + np.float32(z * np.float32(0.5))))
    q = horner([f32(c) for c in pq], t)
    return np.float32(exp32(np.float32(-np.float32(z * z))) * np.float32(t * q))

def erf32(z):
    a = abs(np.float32(z))
    if a < 0.9:
        return np.float32(np.float32(z) * horner([f32(c) for c in pf], np.float32(a * a)))
    return np.float32(np.sign(z) * np.float32(np.float32(1) - erfc32(a)))

worst = 0
for z in np.linspace(-6, 6, 120001, dtype=np.float32):
    e = mp.erf(mp.mpf(float(z)))
    got = erf32(z)
    ulp = np.spacing(np.float32(float(e))) if e != 0 else np.float32(1e-45)
    worst = max(worst, abs(float(got) - float(e)) / float(ulp))
print("erf worst ulp", worst)
worst = 0
for z in np.linspace(0.9, 9, 40001, dtype=np.float32):
    e = mp.erfc(mp.mpf(float(z)))
    got = erfc32(z)
    worst = max(worst, abs(float(got) - float(e)) / float(e))
print("erfc worst rel", worst)

def tanh32(x):
    a = abs(np.float32(x))
    if a < 0.625:
        s = np.float32(a * a)
        return np.float32(np.float32(x) + np.float32(np.float32(x) * s) * horner([f32(c) for c in pt], s))
    e = exp32(np.float32(2) * a)
    return np.float32(np.sign(x) * np.float32(np.float32(1) - np.float32(np.float32(2) / np.float32(e + np.float32(1)))))

worst = 0
for x in np.linspace(-10, 10, 100001, dtype=np.float32):
    e = mp.tanh(mp.mpf(float(x)))
    got = tanh32(x)
    ulp = np.spacing(np.float32(float(e))) if e != 0 else np.float32(1e-45)
    worst = max(worst, abs(float(got) - float(e)) / float(ulp))
print("tanh worst ulp", worst)

# GELU (math.ts geluErf4): Φ(-a) = e^{-a²/2}·R(a) on a in [0, 13.2], R = P/Q with P of degree 4 and
# Q of degree 5 (Q(0) = 1), fitted for relative error by linearised least squares (Sanathanan-
# Koerner) with Lawson reweighting towards minimax, on Chebyshev nodes; values from mpmath.
GA, GN = 13.2, 3000
gxs = np.array([GA * (1 - np.cos(np.pi * (i + 0.5) / GN)) / 2 for i in range(GN)])
gys = np.array([float(mp.ncdf(-mp.mpf(a)) * mp.exp(mp.mpf(a) ** 2 / 2)) for a in gxs])


def fit_rational(m, n, iters=40):
    q, w, best = np.ones(GN), np.ones(GN) / GN, None
    for _ in range(iters):
        cols = [gxs**k for k in range(m + 1)] + [-gys * gxs**k for k in range(1, n + 1)]
        M = np.stack(cols, 1) / (gys * q)[:, None] * np.sqrt(w)[:, None]
        c, *_ = np.linalg.lstsq(M, np.sqrt(w) / q, rcond=None)
        p, qq = c[: m + 1], np.concatenate([[1], c[m + 1 :]])
        q = np.polyval(qq[::-1], gxs)
        err = np.polyval(p[::-1], gxs) / q / gys - 1
        if best is None or np.abs(err).max() < best[2]:
            best = (p, qq, np.abs(err).max())
        w = w * np.abs(err)
        w /= w.sum()
    return best


gp, gq, gerr = fit_rational(4, 5)
print("gelu R = P/Q: P", [float(f32(c)) for c in gp], "Q", [float(f32(c)) for c in gq], "max rel err", gerr)
