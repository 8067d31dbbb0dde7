"""The PGO training workload: what CPython's profile-guided build runs to learn which code is hot.

Its profile is part of the runtime's bytes, so it must be a function of its inputs: it is single-threaded, runs
fixed iteration counts, seeds its only random generator, and reads no clock, network, environment or directory
listing. build_cpython.sh runs it with a fixed hash seed, locale and time zone, and with address space layout
randomization off: CPython's allocator, its type cache and dicts keyed by id() take different paths at other
addresses, and the compiler would then optimize differently.

It covers what services spend their time on (calls, objects, containers, str formatting, re, json, decimal, bigint,
float-heavy objects, in-place list work, deepcopy, sqlite3, generators, exceptions, struct, hashlib, zlib, pickle,
io, the compiler, logging, dataclasses and enums, building XML, locks and queues, URLs, dates, JSON responses with
json's defaults, money with decimal's, small solvers and a bit-level decoder) instead of CPython's test suite,
which uses threads, timeouts and temporary files. It prints a digest of its results, the same on every run. Runs
on CPython 3.9+: newer syntax is compiled only where the interpreter has it.
"""
import array
import base64
import bisect
import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import hashlib
import heapq
import io
import itertools
import json
import logging
import math
import operator
import pickle
import queue
import random
import re
import sqlite3
import struct
import sys
import threading
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

SCALE = 2
ROUNDS = 2
acc = hashlib.sha256()


def feed(x):
    acc.update(repr(x).encode("utf-8", "surrogatepass"))


# ---- function calls, closures, recursion
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def make_adder(k):
    def add(x, *, y=0):
        return x + k + y

    return add


def calls():
    t = 0
    for i in range(30 * SCALE):
        t += fib(18)
    adders = [make_adder(i) for i in range(50)]
    for i in range(4000 * SCALE):
        for a in adders:
            t = (t + a(i, y=1)) % 1000003
    kw = dict(a=1, b=2, c=3)

    def f(a, b, c, d=4):
        return a * b + c - d

    for i in range(100000 * SCALE):
        t += f(**kw) + f(i, 2, 3) + f(*(1, 2, 3, i))
    feed(t)


# ---- classes, properties, dunder methods, inheritance, dataclass-like
class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y)

    def __mul__(self, k):
        return Vec(self.x * k, self.y * k)

    def __eq__(self, o):
        return self.x == o.x and self.y == o.y

    def __hash__(self):
        return hash((self.x, self.y))

    @property
    def norm2(self):
        return self.x * self.x + self.y * self.y


class Base:
    kind = "base"

    def __init__(self, n):
        self.n = n
        self.extra = {}

    def value(self):
        return self.n

    def describe(self):
        return f"{self.kind}:{self.value()}"


class Child(Base):
    kind = "child"

    def value(self):
        return super().value() * 2


class GrandChild(Child):
    kind = "grand"

    def value(self):
        return super().value() + 1

    def __repr__(self):
        return "GrandChild(%d)" % self.n


def classes():
    s = Vec(0, 0)
    for i in range(150000 * SCALE):
        s = s + Vec(i % 7, i % 11) * 2
    feed(s.norm2)
    objs = [cls(i) for i in range(20000 * SCALE) for cls in (Base, Child, GrandChild)]
    total = 0
    for o in objs:
        total += o.value()
        o.extra["k"] = len(o.describe())
        setattr(o, "dyn", total & 0xFF)
        total += getattr(o, "dyn")
    feed(total)
    feed(isinstance(objs[-1], Base) and issubclass(GrandChild, Child))
    vs = {Vec(i % 100, i % 37) for i in range(50000 * SCALE)}
    feed(len(vs))


# ---- containers
def containers():
    d = {}
    for i in range(200000 * SCALE):
        k = "k%d" % (i % 5000)
        d[k] = d.get(k, 0) + i
    feed(sum(d.values()))
    di = {i: i * i for i in range(100000 * SCALE)}
    for i in range(0, 100000 * SCALE, 3):
        del di[i]
    feed(len(di))
    feed(sorted(di)[:5])
    st = set(range(0, 100000 * SCALE, 2)) | set(range(0, 100000 * SCALE, 3))
    st2 = frozenset(range(0, 50000, 5))
    feed(len(st & st2))
    feed(len(st - st2))
    feed(len(st ^ st2))
    lst = []
    for i in range(200000 * SCALE):
        lst.append(i * 7 % 1009)
    lst.sort()
    feed(lst[::10000])
    lst.reverse()
    lst.insert(5, -1)
    lst.pop(0)
    lst.remove(-1)
    feed(lst.index(500))
    feed(lst.count(3))
    words = [("w%d" % (i * 2654435761 % 100000), i) for i in range(100000 * SCALE)]
    words.sort(key=operator.itemgetter(0))
    feed(words[:3])
    words.sort(key=lambda t: (-t[1] % 97, t[0]))
    feed(words[:3])
    feed(sorted(words, reverse=True)[:3])
    c = collections.Counter(w[0][:3] for w in words)
    feed(c.most_common(5))
    dq = collections.deque(maxlen=1000)
    for i in range(100000 * SCALE):
        dq.append(i)
        if i % 3 == 0:
            dq.popleft()
    feed(sum(dq))
    od = collections.OrderedDict((str(i), i) for i in range(10000))
    od.move_to_end("5")
    feed(next(reversed(od)))
    dd = collections.defaultdict(list)
    for i in range(50000 * SCALE):
        dd[i % 101].append(i)
    feed(len(dd[7]))
    Pt = collections.namedtuple("Pt", "x y z")
    pts = [Pt(i, i + 1, i + 2) for i in range(30000)]
    feed(sum(p.x + p.z for p in pts))
    h = list(range(50000, 0, -1))
    heapq.heapify(h)
    feed([heapq.heappop(h) for _ in range(100)][-1])
    feed(heapq.nlargest(5, range(100000)))
    srt = list(range(0, 200000, 3))
    feed(sum(bisect.bisect_left(srt, i) for i in range(0, 200000, 7)))
    tup = tuple(range(1000))
    feed(sum(tup[i : i + 10].count(i) for i in range(0, 1000, 10)))


# ---- strings, formatting, unicode
def strings():
    out = []
    for i in range(60000 * SCALE):
        out.append(f"{i:08d}|{i / 7:.3f}|{i:x}|{'ab' * (i % 5)!r}|{i:>10,}")
        out.append("%s-%d-%5.2f-%r" % ("s", i, i / 3, (i,)))
        out.append("{0}:{1:^12}:{2:e}".format(i, "mid", i * 1.5))
    s = "\n".join(out)
    feed(len(s))
    feed(hashlib.md5(s.encode()).hexdigest())
    parts = s.split("\n")
    feed(len(parts))
    feed(sum(p.count("0") for p in parts[:50000]))
    t = "The quick brown fox jumps over the lazy dog. " * 2000
    for _ in range(50 * SCALE):
        u = t.upper().lower().title().swapcase()
        u = u.replace("fox", "cat").strip().center(len(u) + 10, "*")
        feed(u.find("lazy"))
        feed(u.startswith("*"))
        feed(len(u.split()))
    uni = "".join(chr(c) for c in range(0x20, 0x3000) if unicodedata.category(chr(c))[0] in "LN")
    feed(len(uni))
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        feed(len(unicodedata.normalize(form, uni)))
    feed(uni.upper()[:50])
    feed(uni.casefold()[-50:])
    feed(uni.isidentifier())
    for enc in ("utf-8", "utf-16", "utf-32", "latin-1", "ascii", "cp1252", "utf-7"):
        b = uni.encode(enc, errors="replace") if enc not in ("utf-8", "utf-16", "utf-32", "utf-7") else uni.encode(enc)
        feed(len(b))
        feed(len(b.decode(enc, errors="replace")))
    bs = bytes(range(256)) * 1000
    feed(bs.hex()[:20])
    feed(bytes.fromhex(bs[:1000].hex()) == bs[:1000])
    ba = bytearray(bs)
    ba.reverse()
    ba[0:10] = b"0123456789"
    feed(ba[:12])
    feed(" ".join(str(x) for x in range(10000)).encode().translate(bytes.maketrans(b"0123", b"abcd"))[:40])


# ---- regex
def regexes():
    text = " ".join(
        "user%d@example%d.com 2024-%02d-%02d id=%d" % (i, i % 13, i % 12 + 1, i % 28 + 1, i * 31)
        for i in range(20000 * SCALE)
    )
    pats = [
        r"(\w+)@(\w+)\.com",
        r"(\d{4})-(\d\d)-(\d\d)",
        r"id=(\d+)",
        r"\b[a-z]+\d{2}\b",
        r"(?i)EXAMPLE(1[0-2])",
        r"(?P<u>user\d+)@(?P=u)?",
    ]
    for p in pats:
        rx = re.compile(p)
        feed(len(rx.findall(text)))
        feed(sum(1 for _ in rx.finditer(text[:200000])))
    feed(len(re.sub(r"(\d+)", lambda m: str(int(m.group(1)) * 2), text[:300000])))
    feed(re.split(r"[@. ]", text[:5000])[:10])
    for i in range(20000 * SCALE):
        m = re.match(r"user(\d+)@example(\d+)", "user%d@example%d" % (i, i % 13))
        feed(m.group(1)) if i % 5000 == 0 else None
    feed(re.fullmatch(r"(a|b)*c", "ab" * 5000 + "c") is not None)


# ---- json
def jsons():
    data = [
        {
            "id": i,
            "name": "item%d" % i,
            "tags": ["t%d" % (i % 7), "u\u00e9\u4e2d"],
            "price": i * 1.25,
            "nested": {"a": [1, 2, {"b": None, "c": True}], "s": "x" * (i % 20)},
        }
        for i in range(5000 * SCALE)
    ]
    for _ in range(6):
        s = json.dumps(data, sort_keys=True)
        s2 = json.dumps(data, indent=2, ensure_ascii=False)
        back = json.loads(s)
        back2 = json.loads(s2)
    feed(len(s))
    feed(len(s2))
    feed(back == back2)
    feed(hashlib.sha1(s.encode()).hexdigest())


# ---- decimal / fractions / math
def numbers():
    decimal.getcontext().prec = 50
    D = decimal.Decimal
    x = D(0)
    for i in range(1, 30000 * SCALE):
        x += D(1) / D(i) * D("1.0001") ** (i % 5)
    feed(str(x))
    feed(str(D(2).sqrt()))
    feed(str(D(10).ln()))
    feed(str(D("1.5").exp()))
    q = D("123.456789").quantize(D("0.001"), rounding=decimal.ROUND_HALF_EVEN)
    feed(str(q))
    F = fractions.Fraction
    f = F(0)
    for i in range(1, 3000):
        f += F(1, i * i)
    feed(f.numerator % 1000003)
    big = 1
    for i in range(1, 3000):
        big *= i
    feed(big % (10**20))
    feed(len(str(big % 10**4000)))
    feed(big.bit_length())
    feed(pow(3, 10**5, 10**9 + 7))
    feed(math.gcd(big, 2**300 * 3**50))
    fl = 0.0
    for i in range(1, 300000 * SCALE):
        fl += math.sin(i) * math.sqrt(i) / (1 + math.log(i)) + (i % 7) / 3.0 - i // 5 * 0.001
    feed(round(fl, 6))
    feed(math.fsum([0.1] * 10000))
    feed((1 + 2j) ** 10 * complex(3, -4))
    feed(float.fromhex((1.5).hex()))
    feed(int("12345678901234567890" * 20) % 97)
    rnd = random.Random(12345)
    feed(sum(rnd.random() for _ in range(50000)))
    feed(rnd.sample(range(1000), 5))


# ---- generators, itertools, functools, comprehensions
def gens():
    def gen(n):
        for i in range(n):
            if i % 3:
                yield i * i
            else:
                yield from (i, -i)

    feed(sum(gen(300000 * SCALE)))

    def pipeline(it):
        it = (x for x in it if x % 2)
        it = map(lambda x: x * 3, it)
        it = itertools.takewhile(lambda x: x < 10**7, it)
        return sum(it)

    feed(pipeline(range(10**6)))
    feed(list(itertools.islice(itertools.permutations(range(8)), 1000, 1005)))
    feed(sum(1 for _ in itertools.combinations(range(20), 5)))
    feed(list(itertools.accumulate(range(20), operator.mul))[-1])
    feed([k for k, g in itertools.groupby(sorted("mississippi" * 100))])
    feed(list(itertools.chain.from_iterable([[i] * 3 for i in range(10)]))[-5:])
    feed(sum(a * b for a, b in zip(range(100000), itertools.cycle([1, 2, 3]))))

    @functools.lru_cache(maxsize=256)
    def lc(n):
        return n if n < 2 else lc(n - 1) + lc(n - 2)

    feed(lc(300))
    feed(sum(lc(i % 300) for i in range(100000)))
    feed(functools.reduce(operator.xor, range(1000000)))
    p = functools.partial(int, base=16)
    feed(sum(p("%x" % i) for i in range(100000)))
    feed(sum([x * y for x in range(300) for y in range(300) if (x ^ y) & 1]))
    feed(len({x: y for x in range(500) for y in range(10)}))
    feed(len({(x * y) % 1000 for x in range(400) for y in range(400)}))


# ---- exceptions, context managers, match
class MyErr(ValueError):
    pass


class CM:
    def __init__(self):
        self.n = 0

    def __enter__(self):
        self.n += 1
        return self

    def __exit__(self, *a):
        return a[0] is KeyError


def excs():
    n = 0
    cm = CM()
    for i in range(100000 * SCALE):
        try:
            if i % 3 == 0:
                raise MyErr(i)
            elif i % 3 == 1:
                {}[i]
            else:
                n += 1 // (i % 2)
        except MyErr as e:
            n += e.args[0] & 1
        except KeyError:
            n += 2
        except ZeroDivisionError:
            n += 3
        finally:
            n += 1
        with cm:
            if i % 5 == 0:
                raise KeyError(i)
    feed(n)
    feed(cm.n)
    try:
        try:
            raise TypeError("inner")
        except TypeError as e:
            raise RuntimeError("outer") from e
    except RuntimeError as e:
        feed(repr(e.__cause__))
    newer_syntax()


# ---- float-heavy objects, unpacking, in-place list work, deepcopy, sqlite3: what ray tracers, simulations,
# permutation searches and data services run, and code that GCC would otherwise optimize as never executed.
class Point3:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z

    def __add__(self, other):
        return Point3(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other):
        return Point3(self.x - other.x, self.y - other.y, self.z - other.z)

    def scale(self, k):
        return Point3(self.x * k, self.y * k, self.z * k)

    def dot(self, other):
        return self.x * other.x + self.y * other.y + self.z * other.z

    def unit(self):
        return self.scale(1.0 / math.sqrt(self.dot(self)))


class Sphere:
    def __init__(self, centre, radius):
        self.centre = centre
        self.radius = radius

    def intersect(self, origin, direction):
        oc = origin - self.centre
        b = oc.dot(direction)
        disc = b * b - (oc.dot(oc) - self.radius * self.radius)
        if disc < 0.0:
            return None
        t = -b - math.sqrt(disc)
        return t if t > 1e-9 else None


class Plane(Sphere):
    def __init__(self, normal, offset):
        super().__init__(normal, 0.0)
        self.offset = offset

    def intersect(self, origin, direction):
        d = self.centre.dot(direction)
        if abs(d) < 1e-12:
            return None
        t = -(self.centre.dot(origin) + self.offset) / d
        return t if t > 1e-9 else None


def floats_and_lists():
    scene = [Sphere(Point3(i - 3.5, (i % 3) * 0.7, 6.0 + i % 4), 0.5 + 0.1 * (i % 5)) for i in range(8)]
    scene.append(Plane(Point3(0.0, 1.0, 0.0), 1.5))
    origin = Point3(0.0, 0.0, 0.0)
    hits, depth = 0, 0.0
    for row in range(40 * SCALE):
        for col in range(80):
            ray = Point3(col / 40.0 - 1.0, row / (20.0 * SCALE) - 1.0, 1.0).unit()
            nearest = None
            for shape in scene:
                t = shape.intersect(origin, ray)
                if t is not None and (nearest is None or t < nearest):
                    nearest = t
            if nearest is not None:
                hits += 1
                depth += (origin + ray.scale(nearest)).z
    feed((hits, round(depth, 6)))
    # n-body: nested lists unpacked in the loop header, augmented assignment into list items
    bodies = [([1.0 * i, 0.5 * i, -0.25 * i], [0.01 * i, 0.02, -0.03], 1.0 + i) for i in range(5)]
    pairs = list(itertools.combinations(bodies, 2))
    for _ in range(2000 * SCALE):
        for ([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = 0.001 * ((dx * dx + dy * dy + dz * dz + 0.01) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for r, [vx, vy, vz], _ in bodies:
            r[0] += 0.001 * vx
            r[1] += 0.001 * vy
            r[2] += 0.001 * vz
    feed([round(c, 9) for r, _, _ in bodies for c in r])
    # fannkuch: slice assignment of reversed slices
    most, checksum = 0, 0
    for perm in itertools.islice(itertools.permutations(range(8)), 5000 * SCALE):
        p, flips = list(perm), 0
        k = p[0]
        while k:
            p[: k + 1] = p[k::-1]
            flips += 1
            k = p[0]
        most, checksum = max(most, flips), checksum + flips
    feed((most, checksum))
    a, b, c, d = 1, 2, 3, 4
    for i in range(100000 * SCALE):
        a, b, c, d = b, c, d, a + i % 3
        (x, y), z = (a, b), c
    feed((a, b, c, d, x, y, z))
    tree = {"k%d" % i: [i, (i, str(i)), {"n": [i] * 3, "f": i / 7}] for i in range(200)}
    for _ in range(10 * SCALE):
        tree = copy.deepcopy(tree)
    feed(len(tree))
    # sqlite3 in memory: no file, no clock
    db = sqlite3.connect(":memory:")
    db.create_function("mod7", 1, lambda v: v % 7)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    db.executemany("INSERT INTO t (name, score) VALUES (?, ?)", (("n%d" % i, i / 3) for i in range(5000 * SCALE)))
    feed(db.execute("SELECT mod7(id), COUNT(*), ROUND(SUM(score), 3) FROM t GROUP BY mod7(id)").fetchall())
    feed(sum(1 for _ in db.execute("SELECT name FROM t WHERE score > ? ORDER BY name", (100.0,))))
    db.close()


# ---- struct, array, memoryview, hashlib, zlib, bz2/lzma, pickle
def binary():
    fmt = struct.Struct("<iqdH4s?")
    buf = bytearray(fmt.size * 20000)
    for i in range(20000 * SCALE):
        fmt.pack_into(buf, (i % 20000) * fmt.size, i, i * 1000003, i / 3, i & 0xFFFF, b"abcd", bool(i & 1))
    feed(sum(t[0] for t in fmt.iter_unpack(bytes(buf))))
    feed(struct.unpack(">IHb", struct.pack(">IHb", 1, 2, -3)))
    arr = array.array("d", (i * 0.5 for i in range(100000)))
    mv = memoryview(arr)
    feed(sum(mv[::100]))
    feed(mv.cast("B")[:16].tobytes())
    ia = array.array("i", range(100000))
    ia.byteswap()
    feed(ia[5])
    blob = ("".join("line %d: %s\n" % (i, "abc" * (i % 10)) for i in range(30000))).encode()
    for name in ("md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"):
        h = hashlib.new(name)
        for j in range(0, len(blob), 4096):
            h.update(blob[j : j + 4096])
        feed(h.hexdigest())
    for lvl in (1, 6, 9):
        c = zlib.compress(blob * SCALE, lvl)
        feed(len(c))
        feed(zlib.decompress(c) == blob * SCALE)
    co = zlib.compressobj()
    parts = [co.compress(blob[i : i + 10000]) for i in range(0, len(blob), 10000)]
    parts.append(co.flush())
    feed(zlib.crc32(b"".join(parts)))
    feed(zlib.adler32(blob))
    try:
        import bz2
        import lzma

        feed(len(bz2.compress(blob)))
        feed(len(lzma.compress(blob[:200000])))
    except ImportError:
        feed("nocomp")
    data = {
        "ints": list(range(20000)),
        "strs": ["s%d" % i for i in range(20000)],
        "nested": [(i, str(i), float(i), [i, {"k": i}]) for i in range(5000)],
        "bytes": blob[:10000],
        "set": frozenset(range(100)),
        "none": None,
        "big": 10**100,
    }
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        for _ in range(2 * SCALE):
            p = pickle.dumps(data, protocol=proto)
            back = pickle.loads(p)
        feed(len(p))
        feed(back == data)
    sio = io.StringIO()
    for i in range(50000):
        sio.write("row %d\n" % i)
    feed(len(sio.getvalue()))
    sio.seek(0)
    feed(sum(1 for _ in sio))
    bio = io.BytesIO(blob)
    feed(len(bio.read(1000)))
    feed(len(bio.readlines()))


# ---- logging: what every service does on every request. Its clock is replaced by a counter (LogRecord reads
# time.time_ns(), or time.time() before 3.13, through the module's `time`), and process ids are not recorded
# (a pid below 257 is a cached int, above it a new one: counts that would depend on the process table).
class TrainingClock:
    """time as logging sees it, with a clock that advances 1.5 ms per reading."""

    def __init__(self):
        self.ns = 1_700_000_000_000_000_000

    def time_ns(self):
        self.ns += 1_500_000
        return self.ns

    def time(self):
        return self.time_ns() / 1e9

    def __getattr__(self, name):
        import time

        return getattr(time, name)


class ContextFilter(logging.Filter):
    def filter(self, record):
        record.request = "req-%d" % (record.lineno % 7)
        return True


def logs():
    logging.time = TrainingClock()
    logging._startTime = logging.time.time_ns() if sys.version_info >= (3, 13) else logging.time.time()
    logging.logProcesses = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-8s %(name)s [%(request)s] %(funcName)s:%(lineno)d %(message)s")
    )
    handler.addFilter(ContextFilter())
    plain = logging.StreamHandler(stream)
    plain.setFormatter(logging.Formatter("{levelname}:{name}:{message}", style="{"))
    plain.setLevel(logging.ERROR)
    app = logging.getLogger("train")
    app.setLevel(logging.INFO)
    app.propagate = False
    app.addHandler(handler)
    app.addHandler(plain)
    children = [logging.getLogger("train.svc%d.part" % i) for i in range(5)]
    adapter = logging.LoggerAdapter(app, {"request": "adapted"})
    for i in range(6000 * SCALE):
        log = children[i % 5]
        log.debug("skipped %d", i)  # below the level: the cheap path most debug lines take
        log.info("handled %s in %d ms", "/item/%d" % i, i % 97)
        if i % 10 == 0:
            log.warning("slow request %r", {"id": i, "path": "/x"}, extra={"user": "u%d" % (i % 3)})
        if i % 50 == 0:
            adapter.error("failed %d", i)
        if i % 500 == 0:
            try:
                {}["missing"]
            except KeyError:
                log.exception("lookup failed for %s", i)
    app.removeHandler(handler)
    app.removeHandler(plain)
    lines = stream.getvalue().splitlines()
    feed(len(lines))
    feed(hashlib.sha256("\n".join(x for x in lines if not x.startswith("  File")).encode()).hexdigest())


# ---- dataclasses, enums, comprehensions over records: a service's models and its queries over them
class Kind(enum.Enum):
    BIG = 1
    SMALL = 2
    MEDIUM = 3


class Perm(enum.IntFlag):
    READ = 4
    WRITE = 2
    EXEC = 1


@dataclasses.dataclass
class Item:
    item_id: int
    owner: int
    kind: Kind
    tags: list = dataclasses.field(default_factory=list)
    active: bool = True


@dataclasses.dataclass(frozen=True, order=True)
class Key:
    owner: int
    item_id: int


def records():
    items = [Item(i, i % 7, list(Kind)[i % 3], ["t%d" % (i % 5)], i % 4 != 0) for i in range(3000)]
    total = 0
    for _ in range(20 * SCALE):
        big = [it for it in items if it.kind == Kind.BIG and it.active]
        by_id = {it.item_id: it for it in items}
        owners = {it.owner for it in big}
        keys = sorted(Key(it.owner, it.item_id) for it in items if it.kind is not Kind.SMALL)
        nested = {o: [it.item_id for it in items if it.owner == o][:5] for o in owners}
        total += len(big) + len(by_id) + len(keys) + sum(len(v) for v in nested.values())
        total += any(it.tags[0] == "t3" for it in big) + all(it.item_id >= 0 for it in items)
        total += sum(1 for it in items if it == by_id[it.item_id])
    feed(total)
    feed(dataclasses.asdict(items[5]))
    feed(dataclasses.replace(items[6], owner=99))
    feed(Kind(2).name + Kind["MEDIUM"].name + str(Perm.READ | Perm.WRITE) + repr(Perm(5)))
    feed(len({Key(i % 10, i % 3) for i in range(10000)}))


# ---- XML: ElementTree's C accelerator, building, searching and serializing documents. Not parsing: with the
# fixed hash seed 0 CPython hands expat a zero hash salt, which expat replaces with a random one, and the
# allocations of its hash tables (through CPython's allocator) then differ from run to run.
def xmls():
    root = ET.Element("root", version="1")
    for c in range(40):
        child = ET.SubElement(root, "child-%d" % c, kind="child")
        for i in range(60):
            leaf = ET.SubElement(child, "leaf", n=str(i))
            leaf.text = "LEAF-%d-%d & <%d>" % (c, i, i % 3)
    deep = root
    for i in range(40):
        deep = ET.SubElement(deep, "deep")
    deep.text = "bottom"
    for _ in range(2 * SCALE):
        data = ET.tostring(root, encoding="utf-8")
        feed(len(data))
        feed(sum(1 for _ in root.iter("leaf")))
        feed(len(root.findall(".//leaf[@n='7']")))
        feed(root.find("child-3/leaf").text)
        copies = copy.deepcopy(root[:10])
        text = ET.tostring(root, encoding="unicode", method="xml")
        feed(hashlib.md5(text.encode()).hexdigest())
        for child in copies:
            child.set("seen", "yes")
            child.remove(child[0])
        feed(sum(len(c) for c in copies))
        feed(len(ET.tostring(root, method="text")))
    ns = ET.Element("{urn:a}r")
    for i in range(200):
        ET.SubElement(ns, "{urn:a}x", y=str(i)).text = "u"
    feed(len(ET.tostring(ns)))
    feed(len(ns.findall("{urn:a}x")))


# ---- locks, queues, URLs, base64, dates: the plumbing around a request, single-threaded
def plumbing():
    lock, rlock = threading.Lock(), threading.RLock()
    cond = threading.Condition(rlock)
    q = queue.Queue()
    n = 0
    for i in range(30000 * SCALE):
        with lock:
            n += 1
        with rlock:
            with rlock:
                n += 1
        with cond:
            cond.notify()
        q.put(i)
        if i % 4 == 3:
            while not q.empty():
                n += q.get() & 1
    feed(n)
    urls = [
        "https://user@host%d.example:80%02d/a/b%d/c?x=%d&y=%s#f" % (i % 9, i % 100, i, i, "v w") for i in range(5000)
    ]
    for _ in range(SCALE):
        parts = [urllib.parse.urlsplit(u) for u in urls]
        feed(sum(len(urllib.parse.parse_qs(p.query)) for p in parts))
        feed(urllib.parse.urlunsplit(parts[7]))
        feed(len(urllib.parse.urlencode({"k%d" % i: "v %d/é" % i for i in range(2000)})))
        feed(urllib.parse.quote("/päth with space/%d" % 5) + urllib.parse.unquote("%7E%20x"))
        feed(urllib.parse.urljoin(urls[3], "../d?z=1"))
    blob = bytes(range(256)) * 200
    feed(base64.b64decode(base64.b64encode(blob)) == blob)
    feed(base64.urlsafe_b64encode(blob[:99]))
    start = datetime.datetime(2024, 1, 31, 12, 30, tzinfo=datetime.timezone.utc)
    stamps = [start + datetime.timedelta(hours=7 * i, seconds=i) for i in range(3000 * SCALE)]
    feed(sum(s.weekday() for s in stamps))
    feed([s.isoformat() for s in stamps[:: 1000 * SCALE]])
    feed(sum(datetime.datetime.fromisoformat(s.isoformat()) == s for s in stamps[:2000]))
    feed(datetime.datetime.strptime("2024-02-29 10:11:12", "%Y-%m-%d %H:%M:%S").strftime("%a %d %b %Y %j"))
    feed(sorted(stamps, reverse=True)[0] - min(stamps))
    feed(datetime.date(2024, 3, 1).toordinal() - datetime.date.fromisoformat("2023-03-01").toordinal())


# ---- what a request handler returns: small JSON documents with json's defaults (the C encoder, ASCII escapes),
# money with decimal's default precision (quantize to cents, banker's and truncating rounding), and records read
# from a binary stream and printed.
def responses():
    simple = {"id": 0, "ok": True, "status": "active", "kind": "user", "region": "eu-west"}
    nested = {"id": 1, "owner": simple, "name": "zaz\u0105\u0107\u017c", "billing": simple, "shipping": simple}
    page = [nested] * 200
    n = 0
    for _ in range(4000 * SCALE):
        n += len(json.dumps({})) + len(json.dumps(simple)) + len(json.dumps(nested))
    for _ in range(40 * SCALE):
        n += len(json.dumps(page))
    feed(n)
    feed(json.dumps([1.5, -0.0, 10**20, None, False, 'tab\tquote"', ("t",), {"7": [{}]}]))
    D = decimal.Decimal
    rates, cents, vat, levy = (D("0.0013"), D("0.00894")), D("0.01"), D("0.0675"), D("0.0341")
    banker = decimal.Context(rounding=decimal.ROUND_HALF_EVEN)
    stream = io.BytesIO(b"".join(struct.pack(">Q", i * 2654435761 % 100003) for i in range(5000)))
    out = io.StringIO()
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.rounding = 28, decimal.ROUND_DOWN
        for _ in range(8 * SCALE):
            stream.seek(0)
            total = tax = D(0)
            for _ in range(5000):
                (seconds,) = struct.unpack(">Q", stream.read(8))
                kind = seconds & 1
                price = banker.quantize(rates[kind] * seconds, cents)
                due = (price * vat).quantize(cents)
                tax += due
                due += price
                if kind:
                    due += (price * levy).quantize(cents)
                total += due
                print(due, file=out)
            feed((str(total), str(tax), len(out.getvalue())))
            out.seek(0)
            out.truncate()


# ---- small solvers: a power iteration (int and float arithmetic through small functions), a search over
# permutations generated in Python with set-based checks, constraint propagation over candidate lists with
# backtracking, and a Huffman-coded bit stream decoded bit by bit.
def weight(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def row_times(i_u):
    i, u = i_u
    total = 0
    for j, u_j in enumerate(u):
        total += weight(i, j) * u_j
    return total


def permutations_of(pool):
    """Heap's algorithm, yielding tuples built by generator expressions."""
    items, n = list(pool), len(pool)
    counters = [0] * n
    yield tuple(x for x in items)
    i = 0
    while i < n:
        if counters[i] < i:
            j = 0 if i % 2 == 0 else counters[i]
            items[j], items[i] = items[i], items[j]
            yield tuple(x for x in items)
            counters[i] += 1
            i = 0
        else:
            counters[i] = 0
            i += 1


class Board:
    """Candidate colours per node of a graph; assigning one removes it from the neighbours' candidates."""

    def __init__(self, links, colours):
        self.links = links
        self.cells = [list(range(colours)) for _ in links]

    def clone(self):
        twin = Board.__new__(Board)
        twin.links, twin.cells = self.links, [c[:] for c in self.cells]
        return twin

    def fixed(self, i):
        return len(self.cells[i]) == 1

    def assign(self, i, v):
        self.cells[i] = [v]
        for nid in self.links[i]:
            if v in self.cells[nid]:
                self.cells[nid].remove(v)
                if not self.cells[nid] or (self.fixed(nid) and not self.assign(nid, self.cells[nid][0])):
                    return False
        return True

    def next_cell(self):
        best, best_i = -1, -1
        for i in range(len(self.cells)):
            if not self.fixed(i):
                busy = sum(1 if self.fixed(nid) else 0 for nid in self.links[i])
                if busy > best:
                    best, best_i = busy, i
        return best_i


def count_colourings(board, limit):
    i = board.next_cell()
    if i < 0:
        return 1
    found = 0
    for v in board.cells[i]:
        twin = board.clone()
        if twin.assign(i, v):
            found += count_colourings(twin, limit - found)
            if found >= limit:
                break
    return found


class BitReader:
    def __init__(self, data):
        self.data, self.pos, self.bits, self.count = data, 0, 0, 0

    def read(self, n):
        while self.count < n:
            self.bits = (self.bits << 8) | self.data[self.pos]
            self.pos += 1
            self.count += 8
        self.count -= n
        value = self.bits >> self.count
        self.bits &= (1 << self.count) - 1
        return value


def huffman_code(text):
    weights = collections.Counter(text)
    heap = [(w, i, ch) for i, (ch, w) in enumerate(sorted(weights.items()))]
    heapq.heapify(heap)
    depth = dict.fromkeys(weights, 0)
    groups = {ch: [ch] for ch in weights}
    serial = len(heap)
    while len(heap) > 1:
        w1, _, a = heapq.heappop(heap)
        w2, _, b = heapq.heappop(heap)
        for ch in groups[a] + groups[b]:
            depth[ch] += 1
        serial += 1
        groups[serial] = groups.pop(a) + groups.pop(b)
        heapq.heappush(heap, (w1 + w2, serial, serial))
    code, previous, codes = 0, 0, {}
    for ch, length in sorted(depth.items(), key=lambda kv: (kv[1], kv[0])):
        code <<= length - previous
        codes[ch] = (length, code)
        code, previous = code + 1, length
    return codes


def solvers():
    u = [1] * 100
    for _ in range(10 * SCALE):
        v = [row_times((i, u)) for i in range(len(list(u)))]
        norm = math.sqrt(sum(x * x for x in v))
        u = [x / norm for x in v]
    feed([round(x, 9) for x in u[:5]])
    cols = range(7)
    for _ in range(3 * SCALE):
        queens = [
            vec
            for vec in permutations_of(cols)
            if len(set(vec[i] + i for i in cols)) == 7 == len(set(vec[i] - i for i in cols))
        ]
        feed((len(queens), queens[:2]))
    ring = [[(i - 1) % 12, (i + 1) % 12, (i + 4) % 12, (i - 4) % 12] for i in range(12)]
    for _ in range(SCALE):
        feed(count_colourings(Board(ring, 4), 3000))
    text = "".join("%s %d, " % (word, i % 17) for i, word in enumerate(("alpha", "beta", "gamma", "delta") * 1500))
    codes = huffman_code(text)
    stream = "".join(format(codes[ch][1], "0%db" % codes[ch][0]) for ch in text)
    nbits = len(stream)
    stream += "0" * (-nbits % 8)
    data = bytes(int(stream[i : i + 8], 2) for i in range(0, len(stream), 8))
    by_code = {value: ch for ch, value in codes.items()}
    for _ in range(SCALE):
        reader, out, left = BitReader(data), [], nbits
        length, code = 0, 0
        while left:
            code, length, left = (code << 1) | reader.read(1), length + 1, left - 1
            ch = by_code.get((length, code))
            if ch is not None:
                out.append(ch)
                length, code = 0, 0
        feed("".join(out) == text)


# ---- compile/exec (parser, compiler)
SRC = '''
def g(a, b=2, *args, **kw):
    """doc"""
    x = [i for i in range(a) if i % b]
    y = {k: v for k, v in kw.items()}
    try:
        z = a / b
    except ZeroDivisionError:
        z = None
    class K:
        def m(self): return x, y, z
    return K().m()
r = g(10, 3, 4, 5, q=1)
'''


def compiler():
    for i in range(400 * SCALE):
        code = compile(SRC.replace("10", str(i % 50 + 1)), "<train-%d>" % (i % 10), "exec")
        ns = {}
        exec(code, ns)
    feed(ns["r"])
    import ast

    tree = ast.parse(SRC * 20)
    feed(len(ast.dump(tree)))
    feed(len(ast.unparse(tree)))


# Syntax newer than 3.9, compiled only by an interpreter that has it.
EXCEPTION_GROUPS = """
try:
    raise ExceptionGroup("g", [ValueError(1), TypeError(2)])
except* ValueError as eg:
    feed(len(eg.exceptions))
except* TypeError as eg:
    feed(len(eg.exceptions))
"""
MATCH = """
def classify(v):
    match v:
        case {"t": "pt", "x": x, "y": y}:
            return x + y
        case [a, b, *rest]:
            return a * b + len(rest)
        case int(n) if n > 10:
            return n
        case str() as s:
            return len(s)
        case _:
            return 0
vals = [{"t": "pt", "x": 1, "y": 2}, [1, 2, 3, 4], 42, "hello", None, 3]
feed(sum(classify(vals[i % 6]) for i in range(200000 * SCALE)))
"""


def newer_syntax():
    if sys.version_info >= (3, 11):
        exec(compile(EXCEPTION_GROUPS, "<exception-groups>", "exec"), {"feed": feed})
    if sys.version_info >= (3, 10):
        exec(compile(MATCH, "<match>", "exec"), {"feed": feed, "SCALE": SCALE})


def main():
    steps = [
        calls,
        classes,
        containers,
        strings,
        regexes,
        jsons,
        numbers,
        floats_and_lists,
        gens,
        excs,
        binary,
        compiler,
        logs,
        records,
        xmls,
        plumbing,
        responses,
        solvers,
    ]
    for _ in range(ROUNDS):
        for step in steps:
            step()
    print(acc.hexdigest())


if __name__ == "__main__":
    main()
