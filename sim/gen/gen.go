package gen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/lienthong/lienthong/docs/examples"
)

// Kind names, as accepted by New and listed by Kinds.
const (
	KindBusiness   = "business"
	KindCitizen    = "citizen"
	KindLandParcel = "land_parcel"
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrUnknownKind is returned by New for a kind that Kinds does not list.
	ErrUnknownKind = errors.New("gen: unknown kind")
	// ErrBadProvinces is returned by NewWithProvinces for an empty, duplicated
	// or unknown province code.
	ErrBadProvinces = errors.New("gen: bad province codes")
)

// Kinds returns the kinds of record New accepts, sorted. The slice is a fresh
// copy owned by the caller. Safe for concurrent use.
func Kinds() []string {
	return []string{KindBusiness, KindCitizen, KindLandParcel}
}

// pcgStream is the second PCG seed word of each kind, so that one seed gives
// unrelated streams for different kinds. Part of the output: do not change.
var pcgStream = map[string]uint64{
	KindBusiness:   0x6c69656e_74686f01,
	KindCitizen:    0x6c69656e_74686f02,
	KindLandParcel: 0x6c69656e_74686f03,
}

// perProvince is the number of distinct keys each kind can make within one
// province; the key space of a generator is perProvince × its province count.
var perProvince = map[string]uint64{
	KindBusiness:   1e8,                                           // 8 digits
	KindCitizen:    citizenSerials * citizenYears * 2,             // serial × birth year × sex
	KindLandParcel: parcelCommunes * parcelSheets * parcelNumbers, // commune × sheet × parcel
}

// Generator produces the records of one (kind, seed, provinces) run, in order.
// It is not safe for concurrent use; use one Generator per goroutine.
type Generator struct {
	kind  string
	rng   rng
	perm  feistel
	i     uint64 // number of records produced so far
	provs []province
	all   []province // every province, for draws not tied to the selection
	buf   []byte     // scratch, reused between records
}

// province is the reference data of one province that the generators need.
type province struct {
	code     string // two digits
	num      int    // code as a number
	name     string
	city     bool
	lat, lon int64 // rough centre, in millionths of a degree
}

var loadProvinces = sync.OnceValues(func() ([]province, error) {
	ps, err := examples.Provinces()
	if err != nil {
		return nil, fmt.Errorf("gen: load provinces: %w", err)
	}
	out := make([]province, 0, len(ps))
	for _, p := range ps {
		c, ok := centres[p.Code]
		if !ok {
			return nil, fmt.Errorf("gen: province %s %s has no centre in gen's table; add it to centres", p.Code, p.Name)
		}
		num := int(p.Code[0]-'0')*10 + int(p.Code[1]-'0')
		out = append(out, province{code: p.Code, num: num, name: p.Name, city: p.Kind == "city", lat: c[0], lon: c[1]})
	}
	return out, nil
})

// New returns a generator of kind (one of Kinds) whose keys span all 34
// provinces. An unknown kind gives an error wrapping ErrUnknownKind that lists
// the kinds.
func New(kind string, seed uint64) (*Generator, error) {
	return NewWithProvinces(kind, seed, nil)
}

// NewWithProvinces is New with keys restricted to the given province codes
// (e.g. []string{"79"} for land parcels whose keys start with "79-", or the
// citizens born in one province). Each code must be one of the 34 codes of
// examples.Provinces, at most once; nil or empty means all of them. The order
// of codes matters to the output. The generator does not keep codes.
func NewWithProvinces(kind string, seed uint64, codes []string) (*Generator, error) {
	stream, ok := pcgStream[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q: choose one of %s", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
	}
	all, err := loadProvinces()
	if err != nil {
		return nil, err
	}
	provs := all
	if len(codes) > 0 {
		byCode := make(map[string]province, len(all))
		for _, p := range all {
			byCode[p.code] = p
		}
		provs = make([]province, 0, len(codes))
		seen := make(map[string]bool, len(codes))
		for _, c := range codes {
			p, ok := byCode[c]
			if !ok {
				return nil, fmt.Errorf("%w: %q is not a province code in force; see docs/examples/provinces.csv", ErrBadProvinces, c)
			}
			if seen[c] {
				return nil, fmt.Errorf("%w: %q is listed twice; list each province once", ErrBadProvinces, c)
			}
			seen[c] = true
			provs = append(provs, p)
		}
	}
	g := &Generator{
		kind:  kind,
		rng:   rng{rand.NewPCG(seed, stream)},
		provs: provs,
		all:   all,
		buf:   make([]byte, 0, 256),
	}
	g.perm = newFeistel(perProvince[kind]*uint64(len(provs)), seed, stream)
	return g, nil
}

// Kind returns the kind of record g produces.
func (g *Generator) Kind() string { return g.kind }

// KeySpace returns how many records g produces before its keys repeat: the
// first KeySpace() records of a run have distinct keys. It is at least 10^7.
func (g *Generator) KeySpace() uint64 { return g.perm.n }

// Next returns the next record. The record and everything it refers to are
// owned by the caller; g keeps no reference to them.
func (g *Generator) Next() Record {
	s := g.perm.at(g.i % g.perm.n)
	g.i++
	switch g.kind {
	case KindCitizen:
		return g.citizen(s)
	case KindBusiness:
		return g.business(s)
	default:
		return g.landParcel(s)
	}
}

// WriteJSONL writes the next count records to w as JSONL (one record per
// line, each ending in '\n'), buffering internally. It blocks on w.
func (g *Generator) WriteJSONL(w io.Writer, count int) error {
	if count < 0 {
		return fmt.Errorf("gen: count %d: give a count of zero or more", count)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	line := make([]byte, 0, 1024)
	for range count {
		line = g.Next().AppendJSON(line[:0])
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("gen: write %s records: %w", g.kind, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gen: write %s records: %w", g.kind, err)
	}
	return nil
}

// Write writes the first count records of kind for seed to w as JSONL, all
// provinces included. It blocks on w.
func Write(w io.Writer, kind string, seed uint64, count int) error {
	g, err := New(kind, seed)
	if err != nil {
		return err
	}
	return g.WriteJSONL(w, count)
}

// rng draws integers from a PCG source with this package's own reductions,
// so that the output depends only on PCG's specified algorithm.
type rng struct{ src *rand.PCG }

// n returns a number in [0, k). REQUIRES: k > 0.
// The multiply-shift reduction has a bias below k/2^64, which is irrelevant here.
func (r rng) n(k int) int {
	hi, _ := bits.Mul64(r.src.Uint64(), uint64(k))
	return int(hi)
}

// between returns a number in [lo, hi]. REQUIRES: lo <= hi.
func (r rng) between(lo, hi int64) int64 {
	hi2, _ := bits.Mul64(r.src.Uint64(), uint64(hi-lo+1))
	return lo + int64(hi2)
}

// permille returns true with probability p/1000.
func (r rng) permille(p int) bool { return r.n(1000) < p }

// digits appends n random decimal digits to dst.
func (r rng) digits(dst []byte, n int) []byte {
	for n > 0 {
		// 12 digits per draw at most, so that the modulo bias stays below 1e-7.
		k := min(n, 12)
		v := r.src.Uint64() % pow10[k]
		dst = appendPadded(dst, v, k)
		n -= k
	}
	return dst
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// feistel is a seeded bijection on [0, n): a balanced Feistel network on the
// smallest even number of bits that holds n, with cycle walking.
type feistel struct {
	n    uint64
	half uint   // bits per half
	mask uint64 // (1<<half)-1
	keys [4]uint64
}

func newFeistel(n, seed, stream uint64) feistel {
	nb := uint(bits.Len64(n - 1))
	half := max((nb+1)/2, 1)
	f := feistel{n: n, half: half, mask: 1<<half - 1}
	k := seed ^ stream
	for i := range f.keys {
		k = splitmix(k)
		f.keys[i] = k
	}
	return f
}

// at returns the image of x. REQUIRES: x < f.n.
func (f *feistel) at(x uint64) uint64 {
	for {
		l, r := x>>f.half, x&f.mask
		for _, k := range f.keys {
			l, r = r, l^(splitmix(r^k)&f.mask)
		}
		x = l<<f.half | r
		if x < f.n {
			return x
		}
	}
}

// splitmix is the SplitMix64 finaliser.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// weighted is a table for drawing items with integer weights in O(1).
type weighted struct {
	items []string
	table []uint16 // item index, repeated weight times
}

// pick returns an item drawn with probability weight/total.
func (w *weighted) pick(r rng) string { return w.items[w.table[r.n(len(w.table))]] }

// newWeighted builds a table from name, weight pairs.
func newWeighted(pairs ...any) *weighted {
	w := &weighted{}
	for i := 0; i < len(pairs); i += 2 {
		w.items = append(w.items, pairs[i].(string))
		for range pairs[i+1].(int) {
			w.table = append(w.table, uint16(len(w.items)-1))
		}
	}
	return w
}
