package dict

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// strictDecode decodes exactly one JSON value from data into v, refusing
// unknown object keys (for structs), anything but white space after the
// value, and what CheckText refuses (duplicate names anywhere, invalid UTF-8,
// lone surrogates).
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := expectEOF(dec); err != nil {
		return err
	}
	return CheckText(data)
}

// decodeNumber decodes exactly one JSON value, keeping numbers as
// json.Number so that no precision is lost.
func decodeNumber(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeValue is decodeNumber with fast paths for the scalars that most
// field values are: a string, a number or a literal.
func decodeValue(data []byte) (any, error) {
	t := trimSpace(data)
	if len(t) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if err := CheckText(t); err != nil {
		return nil, err
	}
	switch c := t[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		if !json.Valid(t) {
			return nil, errors.New("invalid number")
		}
		return json.Number(t), nil
	case string(t) == "true":
		return true, nil
	case string(t) == "false":
		return false, nil
	case string(t) == "null":
		return nil, nil
	}
	return decodeNumber(data)
}

// expectEOF reports an error unless dec has nothing left but white space.
func expectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
