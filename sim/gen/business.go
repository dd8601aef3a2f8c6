package gen

import "strconv"

// business builds the business numbered s in the key space.
//
// Key: the 10-digit enterprise code, 2-digit province code + 8 digits.
// Fields, in order: name, legal_form, registered_capital, established,
// province, address, industries, employees, active, updated_at.
func (g *Generator) business(s uint64) Record {
	r := g.rng
	prov := g.provs[s/1e8]
	b := append(g.buf[:0], prov.code...)
	b = appendPadded(b, s%1e8, 8)
	key := string(b)

	form := legalForms.pick(r)
	sec := &sectors[r.n(len(sectors))]
	b1 := r.n(len(brandSyllables))
	b2 := r.n(len(brandSyllables) - 1)
	if b2 >= b1 {
		b2++ // two different syllables
	}
	b = append(b[:0], formPrefix[form]...)
	b = append(b, ' ')
	b = append(b, sec.word...)
	b = append(b, ' ')
	b = append(b, brandSyllables[b1]...)
	b = append(b, ' ')
	b = append(b, brandSyllables[b2]...)
	name := string(b)

	// registered_capital in VND: a round mantissa times a power of ten,
	// larger for joint-stock companies; 3% carry two decimals.
	mantissas := [...]int64{1, 2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 50}
	exp := 8 + r.n(3)
	if form == "jsc" {
		exp++
	}
	b = strconv.AppendInt(b[:0], mantissas[r.n(len(mantissas))]*int64(pow10[exp]), 10)
	if r.permille(30) {
		b = append(b, '.')
		b = appendPadded(b, uint64(r.between(1, 99)), 2)
	}
	capital := string(b)

	estDay := r.between(daysFromCivil(1990, 1, 1), daysFromCivil(2025, 12, 31))
	established := string(appendDate(b[:0], estDay))

	// address: street number, street, ward or commune, province.
	b = append(b[:0], "Số "...)
	b = strconv.AppendInt(b, r.between(1, 499), 10)
	b = append(b, " đường "...)
	b = append(b, streets[r.n(len(streets))]...)
	if prov.city || r.permille(500) {
		b = append(b, ", phường "...)
	} else {
		b = append(b, ", xã "...)
	}
	b = append(b, wards[r.n(len(wards))]...)
	b = append(b, ", "...)
	b = append(b, prov.name...)
	address := string(b)

	// industries: 1 (50%), 2 (35%) or 3 (15%) distinct codes of the sector.
	n := 1
	if p := r.n(100); p >= 85 {
		n = 3
	} else if p >= 50 {
		n = 2
	}
	var idx [8]int
	for i := range sec.vsic {
		idx[i] = i
	}
	industries := make([]string, n)
	for i := range n { // partial Fisher–Yates
		j := i + r.n(len(sec.vsic)-i)
		idx[i], idx[j] = idx[j], idx[i]
		industries[i] = sec.vsic[idx[i]]
	}

	// employees: 1–5000, most firms small.
	var employees int64
	switch p := r.n(100); {
	case p < 55:
		employees = r.between(1, 9)
	case p < 83:
		employees = r.between(10, 49)
	case p < 94:
		employees = r.between(50, 199)
	case p < 99:
		employees = r.between(200, 999)
	default:
		employees = r.between(1000, 5000)
	}
	active := r.permille(900)

	// updated_at: 2024–2026 and not before the business was established.
	lo := max(daysFromCivil(2024, 1, 1), estDay) * 86400
	hi := daysFromCivil(2027, 1, 1)*86400 - 1
	updated := string(appendDateTime(b[:0], r.between(lo, hi)))

	g.buf = b
	return Record{Key: key, Fields: []Field{
		{"name", name},
		{"legal_form", form},
		{"registered_capital", capital},
		{"established", established},
		{"province", prov.code},
		{"address", address},
		{"industries", industries},
		{"employees", employees},
		{"active", active},
		{"updated_at", updated},
	}}
}
