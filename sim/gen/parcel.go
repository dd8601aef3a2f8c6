package gen

import "encoding/json"

// Land parcel key space per province: communes × map sheets × parcels.
const (
	parcelCommunes = 100
	parcelSheets   = 100
	parcelNumbers  = 4000
)

// communeCode returns the 5-digit code of commune i (< parcelCommunes) of the
// province numbered num. Codes grow with the province code, like the real ones.
func communeCode(num, i int) uint64 { return uint64(num*330 + i*3 + 1) }

// landParcel builds the parcel numbered s in the key space.
//
// Key: province code - 5-digit commune code - map sheet (1–100) - parcel
// number (1–4000). Fields, in order: commune_code, area_m2, land_use,
// owner_ids, certificate_no, geometry, registered_at.
func (g *Generator) landParcel(s uint64) Record {
	r := g.rng
	parcel := s%parcelNumbers + 1
	s /= parcelNumbers
	sheet := s%parcelSheets + 1
	s /= parcelSheets
	commune := int(s % parcelCommunes)
	prov := g.provs[s/parcelCommunes]

	b := append(g.buf[:0], prov.code...)
	b = append(b, '-')
	b = appendPadded(b, communeCode(prov.num, commune), 5)
	communeStr := string(b[3:])
	b = append(b, '-')
	b = appendPadded(b, sheet, 0)
	b = append(b, '-')
	b = appendPadded(b, parcel, 0)
	key := string(b)

	use := landUses.pick(r)
	ar := areaRange[use]
	area := r.between(ar[0], ar[1]) // hundredths of m²
	areaStr := string(appendFixed(b[:0], area, 2))

	// owner_ids: one owner (70%) or two, citizen numbers mostly of the same province.
	owners := make([]string, 1, 2)
	owners[0] = g.ownerID(r, prov)
	if r.permille(300) {
		o := g.ownerID(r, prov)
		for o == owners[0] {
			o = g.ownerID(r, prov)
		}
		owners = append(owners, o)
	}

	b = append(b[:0], certificateSeries[r.n(len(certificateSeries))]...)
	b = append(b, ' ')
	b = r.digits(b, 6)
	certificate := string(b)

	// geometry: a small quadrilateral of about the parcel's area near the
	// province's centre, counter-clockwise, closed; millionths of a degree.
	const spread = 150_000
	lon := clamp(prov.lon+r.between(-spread, spread), 102_000_000, 109_990_000)
	lat := clamp(prov.lat+r.between(-spread, spread), 8_500_000, 23_390_000)
	side := isqrt(area/100) * 9 // about 9 µ° per metre
	side = max(side, 20)
	jit := func() int64 { return r.between(-side/10, side/10) }
	pts := [5][2]int64{
		{lon, lat},
		{lon + side + jit(), lat + jit()},
		{lon + side + jit(), lat + side + jit()},
		{lon + jit(), lat + side + jit()},
		{lon, lat},
	}
	b = append(b[:0], `{"type":"Polygon","coordinates":[[`...)
	for i, p := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendFixed(b, p[0], 6)
		b = append(b, ',')
		b = appendFixed(b, p[1], 6)
		b = append(b, ']')
	}
	b = append(b, "]]}"...)
	geometry := json.RawMessage(append([]byte(nil), b...))

	at := r.between(daysFromCivil(2000, 1, 1)*86400, daysFromCivil(2026, 1, 1)*86400-1)
	registered := string(appendDateTime(b[:0], at))

	g.buf = b
	return Record{Key: key, Fields: []Field{
		{"commune_code", communeStr},
		{"area_m2", areaStr},
		{"land_use", use},
		{"owner_ids", owners},
		{"certificate_no", certificate},
		{"geometry", geometry},
		{"registered_at", registered},
	}}
}

// ownerID returns a random 12-digit citizen number, of prov 80% of the time,
// for someone born 1940–2000.
func (g *Generator) ownerID(r rng, prov province) string {
	if !r.permille(800) {
		prov = g.all[r.n(len(g.all))]
	}
	year := r.between(1940, 2000)
	sex := byte('0' + r.n(2))
	if year >= 2000 {
		sex += 2
	}
	var a [12]byte
	b := append(a[:0], '0', prov.code[0], prov.code[1], sex)
	b = appendPadded(b, uint64(year%100), 2)
	return string(r.digits(b, 6))
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

// isqrt returns the integer square root of v >= 0.
func isqrt(v int64) int64 {
	x := int64(0)
	for bit := int64(1) << 30; bit > 0; bit >>= 1 {
		if t := x | bit; t*t <= v {
			x = t
		}
	}
	return x
}
