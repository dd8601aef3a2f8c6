package gen

// Citizen key space per province: 10^6 serials × 95 birth years × 2 sexes.
const (
	citizenSerials   = 1_000_000
	citizenFirstYear = 1930
	citizenYears     = 2024 - citizenFirstYear + 1
)

// citizen builds the citizen numbered s in the key space.
//
// Key: 12 digits, "0" + birth province code, then 0/1 (male/female born in
// the 1900s) or 2/3 (the same, 2000s), the last two digits of the birth year,
// and a 6-digit serial. Fields, in order: full_name, birth_date, sex,
// birth_province, residence_province, ethnicity, phones, insurance_number,
// insurance_expiry, clinic_visits.
func (g *Generator) citizen(s uint64) Record {
	r := g.rng
	serial := s % citizenSerials
	s /= citizenSerials
	year := int64(citizenFirstYear) + int64(s%citizenYears)
	s /= citizenYears
	female := s%2 == 1
	birth := g.provs[s/2]

	sexDigit := byte('0')
	if year >= 2000 {
		sexDigit = '2'
	}
	if female {
		sexDigit++
	}
	b := append(g.buf[:0], '0', birth.code[0], birth.code[1], sexDigit)
	b = appendPadded(b, uint64(year%100), 2)
	b = appendPadded(b, serial, 6)
	key := string(b)

	// full_name
	b = append(b[:0], familyNames.pick(r)...)
	b = append(b, ' ')
	var middle, given string
	if female {
		middle = middleFemale.pick(r)
		if r.permille(150) {
			middle = middleUnisex.pick(r)
		}
		given = givenFemale.pick(r)
		if given == middle {
			given = givenFemale.pick(r)
		}
		b = append(b, middle...)
		if middle == "Thị" && r.permille(250) {
			b = append(b, ' ')
			b = append(b, secondMiddleF.pick(r)...)
		}
	} else {
		middle = middleMale.pick(r)
		if r.permille(150) {
			middle = middleUnisex.pick(r)
		}
		given = givenMale.pick(r)
		if given == middle {
			given = givenMale.pick(r)
		}
		b = append(b, middle...)
	}
	b = append(b, ' ')
	b = append(b, given...)
	name := string(b)

	// birth_date
	days := int64(365)
	if isLeap(year) {
		days = 366
	}
	birthDate := string(appendDate(b[:0], daysFromCivil(year, 1, 1)+int64(r.n(int(days)))))

	sex := "male"
	if female {
		sex = "female"
	}
	residence := birth
	if !r.permille(700) {
		residence = g.all[r.n(len(g.all))]
	}
	ethnicity := ethnicities.pick(r)

	// phones: none 10%, one 60%, two 30%.
	var phones []string
	switch p := r.n(1000); {
	case p < 100:
		phones = []string{}
	case p < 700:
		phones = []string{g.phone(r)}
	default:
		a := g.phone(r)
		c := g.phone(r)
		for c == a {
			c = g.phone(r)
		}
		phones = []string{a, c}
	}

	// insurance_number: object code by age, benefit level, residence province, 10 digits.
	age := 2025 - year
	var code string
	switch {
	case age < 6:
		code = "TE"
	case age < 18:
		code = "HS"
	case age < 23 && r.permille(600):
		code = "SV"
	case age < 60:
		code = insuranceWorking.pick(r)
	default:
		code = insuranceElderly.pick(r)
	}
	b = append(b[:0], code...)
	b = append(b, insuranceLevel[code], residence.code[0], residence.code[1])
	b = r.digits(b, 10)
	insurance := string(b)

	expiry := string(appendDate(b[:0], r.between(daysFromCivil(2025, 1, 1), daysFromCivil(2028, 12, 31))))
	visits := int64(r.n(21) * r.n(21) / 20) // 0–20, mostly small

	g.buf = b
	return Record{Key: key, Fields: []Field{
		{"full_name", name},
		{"birth_date", birthDate},
		{"sex", sex},
		{"birth_province", birth.code},
		{"residence_province", residence.code},
		{"ethnicity", ethnicity},
		{"phones", phones},
		{"insurance_number", insurance},
		{"insurance_expiry", expiry},
		{"clinic_visits", visits},
	}}
}

// phone returns a random mobile number of 10 digits.
func (g *Generator) phone(r rng) string {
	var a [10]byte
	b := append(a[:0], phonePrefixes.pick(r)...)
	return string(r.digits(b, 7))
}
