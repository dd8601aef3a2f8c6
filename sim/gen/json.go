package gen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Record is one line of JSONL as `lienthong import` reads it:
// {"key":"...","fields":{...}}, the fields in the order of Fields.
type Record struct {
	Key    string
	Fields []Field
}

// Field is one named value of a record. Value is a string, int64, int, bool,
// []string (nil writes []), json.RawMessage (written as is; REQUIRES: valid
// JSON, empty writes null) or nil (null).
type Field struct {
	Name  string
	Value any
}

// Get returns the value of the field called name, or nil.
func (r Record) Get(name string) any {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// AppendJSON appends r as one line of JSON, without a trailing newline, to
// dst and returns the extended slice. Fields keep their order; strings keep
// their UTF-8 as is (no \u escapes for Vietnamese letters), with quotes,
// backslashes and control characters escaped and invalid UTF-8 replaced by
// U+FFFD. It panics on a Value of a type Field does not list.
func (r Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendString(dst, r.Key)
	dst = append(dst, `,"fields":{`...)
	for i, f := range r.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f.Name)
		dst = append(dst, ':')
		dst = appendValue(dst, f.Value)
	}
	return append(dst, "}}"...)
}

func appendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case bool:
		return strconv.AppendBool(dst, v)
	case []string:
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case json.RawMessage:
		if len(v) == 0 {
			return append(dst, "null"...)
		}
		return append(dst, v...)
	case nil:
		return append(dst, "null"...)
	default:
		panic(fmt.Sprintf("gen: Field value of type %T is not supported", v))
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendPadded appends v in decimal, left-padded with zeros to width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var b [20]byte
	i := len(b)
	for v > 0 || width > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(dst, b[i:]...)
}

// appendFixed appends v/10^decimals with exactly decimals digits after the point.
func appendFixed(dst []byte, v int64, decimals int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	p := int64(pow10[decimals])
	dst = strconv.AppendInt(dst, v/p, 10)
	if decimals > 0 {
		dst = append(dst, '.')
		dst = appendPadded(dst, uint64(v%p), decimals)
	}
	return dst
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // years here are all positive
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendDate appends day (days since 1970-01-01) as YYYY-MM-DD.
func appendDate(dst []byte, day int64) []byte {
	y, m, d := civilFromDays(day)
	dst = appendPadded(dst, uint64(y), 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, uint64(m), 2)
	dst = append(dst, '-')
	return appendPadded(dst, uint64(d), 2)
}

// appendDateTime appends sec (seconds since 1970-01-01 UTC) in RFC 3339 as
// YYYY-MM-DDTHH:MM:SSZ.
func appendDateTime(dst []byte, sec int64) []byte {
	day, s := sec/86400, sec%86400
	dst = appendDate(dst, day)
	dst = append(dst, 'T')
	dst = appendPadded(dst, uint64(s/3600), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, uint64(s/60%60), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, uint64(s%60), 2)
	return append(dst, 'Z')
}

// isLeap reports whether y is a leap year.
func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
