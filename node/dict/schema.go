package dict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// schemaBase is the base URL of the schemas compiled here. Nothing is ever
// fetched from it: refuseLoader refuses every load.
const schemaBase = "https://lienthong.invalid/dict/"

// refuseLoader refuses to load any schema that was not added to the compiler,
// so that a $ref in a user's object schema can neither read local files (the
// library's default loader reads file:// URLs) nor reach the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external references are not allowed (%s); keep the schema self-contained", url)
}

// newCompiler returns a compiler for draft 2020-12 with format assertion on,
// Go (RE2) regular expressions and no external loading.
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	c.UseRegexpEngine(goRegexp)
	return c
}

// goRegexp is the regexp engine used for every pattern: Go's RE2, the same
// engine EntityType.Check and the key check use.
func goRegexp(s string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, err
	}
	return re, nil
}

// compileSchema compiles doc (a JSON value built by this package) under name.
func compileSchema(c *jsonschema.Compiler, name string, doc map[string]any) (*jsonschema.Schema, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	url := schemaBase + name + ".json"
	if err := c.AddResource(url, v); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// compileUserSchema compiles the JSON Schema of an object field.
func compileUserSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %v", err)
	}
	switch v.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("schema must be a JSON object (or true/false)")
	}
	c := newCompiler()
	url := schemaBase + "object-field.json"
	if err := c.AddResource(url, v); err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema does not compile as JSON Schema draft 2020-12: %s", oneLine(err.Error()))
	}
	return s, nil
}

// oneLine joins a multi-line library message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// firstLeaf returns the first most specific cause of a validation error.
func firstLeaf(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return ve
}

// describeKind says in our own words what a failed JSON Schema keyword of a
// user's object schema wanted.
func describeKind(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("is %s, want %s", k.Got, strings.Join(k.Want, " or "))
	case *kind.Required:
		return fmt.Sprintf("lacks required properties %s", quoteList(k.Missing))
	case *kind.AdditionalProperties:
		return fmt.Sprintf("has properties the schema does not allow: %s", quoteList(k.Properties))
	case *kind.Enum:
		return "is not one of the values the schema allows"
	case *kind.Const:
		return "is not the value the schema requires"
	case *kind.Pattern:
		return fmt.Sprintf("does not match the pattern %s", k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("has %d characters, fewer than minLength %d", k.Got, k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("has %d characters, more than maxLength %d", k.Got, k.Want)
	case *kind.Minimum:
		return fmt.Sprintf("is less than minimum %s", k.Want.FloatString(6))
	case *kind.Maximum:
		return fmt.Sprintf("is greater than maximum %s", k.Want.FloatString(6))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("is not greater than exclusiveMinimum %s", k.Want.FloatString(6))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("is not less than exclusiveMaximum %s", k.Want.FloatString(6))
	case *kind.MinItems:
		return fmt.Sprintf("has %d items, fewer than minItems %d", k.Got, k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("has %d items, more than maxItems %d", k.Got, k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("has equal items at %d and %d", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		return fmt.Sprintf("has %d properties, fewer than minProperties %d", k.Got, k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("has %d properties, more than maxProperties %d", k.Got, k.Want)
	case *kind.Format:
		return fmt.Sprintf("is not a valid %q", k.Want)
	case *kind.FalseSchema:
		return "is not allowed by the schema"
	}
	return fmt.Sprintf("fails the schema keyword %q", strings.Join(k.KeywordPath(), "/"))
}

// quoteList renders names as "a", "b".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// jsonPointer renders a library instance location as a JSON pointer.
func jsonPointer(loc []string) string {
	if len(loc) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, p := range loc {
		b.WriteByte('/')
		p = strings.ReplaceAll(p, "~", "~0")
		b.WriteString(strings.ReplaceAll(p, "/", "~1"))
	}
	return b.String()
}
