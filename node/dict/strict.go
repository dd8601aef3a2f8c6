package dict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// strictDecode decodes exactly one JSON value from data into v, refusing
// unknown object keys (for structs), duplicate keys anywhere and anything but
// white space after the value.
func strictDecode(data []byte, v any) error {
	if err := checkDuplicateKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return expectEOF(dec)
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
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, io.ErrUnexpectedEOF
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

// maxJSONDepth bounds the nesting that checkDuplicateKeys follows; the
// standard decoder has its own, larger, limit.
const maxJSONDepth = 1000

// checkDuplicateKeys reports the first object key that appears twice in the
// same object. Syntax errors are left to the decoder that runs next, except
// where they stop the walk.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := walkDuplicateKeys(dec, "", 0)
	var dup *duplicateKeyError
	if errors.As(err, &dup) {
		return err
	}
	return nil // syntax errors are reported by the real decoder
}

type duplicateKeyError struct{ key, path string }

func (e *duplicateKeyError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("duplicate key %q", e.key)
	}
	return fmt.Sprintf("duplicate key %q in %s", e.key, e.path)
}

func walkDuplicateKeys(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("too deeply nested")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if seen[key] {
				return &duplicateKeyError{key: key, path: path}
			}
			seen[key] = true
			if err := walkDuplicateKeys(dec, path+"/"+key, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkDuplicateKeys(dec, fmt.Sprintf("%s/%d", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
