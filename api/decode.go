package api

import (
	"fmt"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Format names an input form of a request.
type Format string

// The input forms. FormatRPC is a query string, as the SDKs send it.
const (
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
	FormatRPC  Format = "rpc"
)

// Decode decodes data in the given form into out, a pointer to a request
// struct of this package. Unknown keys, values of the wrong type and malformed
// lists are all reported, as InvalidParameter errors naming the wire path.
func Decode(data []byte, format Format, out any) error {
	switch format {
	case FormatJSON:
		t, err := jsonTree(data)
		if err != nil {
			return invalid("", "the request is not valid JSON: %v", err)
		}
		return decodeTree(t, false, out)
	case FormatYAML:
		t, err := yamlTree(data)
		if err != nil {
			return invalid("", "the request is not valid YAML: %v", err)
		}
		return decodeTree(t, false, out)
	case FormatRPC:
		values, err := url.ParseQuery(strings.TrimSpace(string(data)))
		if err != nil {
			return invalid("", "the request is not a valid query string: %v", err)
		}
		return DecodeValues(values, out)
	}
	return fmt.Errorf("unknown request format %q", format)
}

// DecodeValues decodes flattened RPC parameters (query and form merged) into
// out. The protocol's common parameters (Action, Signature, ...) are skipped.
func DecodeValues(values url.Values, out any) error {
	t, errs := rpcTree(values)
	if t == nil {
		return errs.errOrNil()
	}
	if err := decodeTree(t, true, out); err != nil {
		errs = append(errs, AsErrors(err)...)
	}
	return errs.errOrNil()
}

// textDecoder is implemented by scalar types with their own text syntax.
type textDecoder interface {
	decodeText(string) error
}

var textDecoderType = reflect.TypeFor[textDecoder]()

type decoder struct {
	// rpc is set for the flattened form, where lists exist only as .N keys
	// and a bare key for a list (the legacy SDK's Exec.Command=<[]string
	// Value>) is ignored.
	rpc  bool
	errs Errors
}

func decodeTree(t *tree, rpc bool, out any) error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode into %T: want a pointer to a struct", out)
	}
	d := &decoder{rpc: rpc}
	d.value("", t, v.Elem())
	return d.errs.errOrNil()
}

func (d *decoder) fail(path, format string, args ...any) {
	d.errs = append(d.errs, invalid(path, format, args...))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// value decodes t into v and reports whether anything non-zero was given. An
// object that ends up with nothing given is left nil: in the RPC form an
// object exists only through its keys, so one whose keys were all ignored or
// zero was never given, and a request reads the same in every form.
func (d *decoder) value(path string, t *tree, v reflect.Value) bool {
	if v.Kind() == reflect.Pointer {
		elem := reflect.New(v.Type().Elem())
		before := len(d.errs)
		given := d.value(path, t, elem.Elem())
		// A pointer to a scalar marks a value given even when it is zero
		// (RunAsUser 0 is root, a grace period of 0 kills at once).
		if v.Type().Elem().Kind() != reflect.Struct {
			given = len(d.errs) == before
		}
		if given {
			v.Set(elem)
		}
		return given
	}
	if v.CanAddr() && v.Addr().Type().Implements(textDecoderType) {
		s, ok := d.scalar(path, t)
		if !ok {
			return false
		}
		if err := v.Addr().Interface().(textDecoder).decodeText(s); err != nil {
			d.fail(path, "%v", err)
			return false
		}
		return !v.IsZero()
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.object(path, t, v)
	case reflect.Slice:
		return d.list(path, t, v)
	}
	s, ok := d.scalar(path, t)
	if !ok {
		return false
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.fail(path, "%q is not a boolean (true or false)", s)
			return false
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			d.fail(path, "%q is not an integer", s)
			return false
		}
		v.SetInt(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(path, "%q is not a number", s)
			return false
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("api: cannot decode into %s", v.Type()))
	}
	// A zero value counts as not given, as the RPC form leaves it out.
	return !v.IsZero()
}

func (d *decoder) scalar(path string, t *tree) (string, bool) {
	if !t.hasScalar || t.fields != nil || t.isList {
		d.fail(path, "must be a single value, not a list or an object")
		return "", false
	}
	return t.scalar, true
}

func (d *decoder) object(path string, t *tree, v reflect.Value) bool {
	if t.isList || t.hasScalar {
		if t.hasScalar && t.fields != nil {
			d.fail(path, "is given both as a value and as an object")
		} else {
			d.fail(path, "must be an object")
		}
		return false
	}
	fields := fieldsOf(v.Type())
	set := false
	for _, key := range t.keys {
		child := t.fields[key]
		f, ok := fields.byName[key]
		if !ok {
			if hint := fields.suggest(key); hint != "" {
				d.fail(join(path, key), "unknown parameter (did you mean %s?)", hint)
			} else {
				d.fail(join(path, key), "unknown parameter")
			}
			continue
		}
		if d.value(join(path, key), child, v.FieldByIndex(f)) {
			set = true
		}
	}
	return set
}

func (d *decoder) list(path string, t *tree, v reflect.Value) bool {
	var items []*tree
	switch {
	case t.isList:
		items = t.list
	case t.fields != nil:
		if !d.rpc {
			d.fail(path, "must be a list")
			return false
		}
		var ok bool
		if items, ok = d.indexed(path, t); !ok {
			return false
		}
	case d.rpc:
		// A bare key for a list: the legacy SDK sends one for every probe's
		// Exec.Command. Lists are built only from .N keys.
		return false
	default:
		d.fail(path, "must be a list")
		return false
	}
	if len(items) == 0 {
		return false
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		itemPath := join(path, strconv.Itoa(i+1))
		before := len(d.errs)
		given := d.value(itemPath, item, s.Index(i))
		if !given && len(d.errs) == before && v.Type().Elem().Kind() == reflect.Struct {
			// An item with nothing in it would shift the indexes of those
			// after it when written back: refuse it.
			d.fail(itemPath, "is empty")
		}
	}
	v.Set(s)
	return true
}

// indexed turns an RPC object whose keys are 1..N into its items, refusing
// gaps, repeats ("01" and "1") and keys that are not indexes.
func (d *decoder) indexed(path string, t *tree) ([]*tree, bool) {
	idx := make([]int, 0, len(t.keys))
	byIdx := make(map[int]*tree, len(t.keys))
	ok := true
	for _, k := range t.keys {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || strconv.Itoa(n) != k {
			d.fail(join(path, k), "unknown parameter: %s is a list, its items are %s.1, %s.2, ...", path, path, path)
			ok = false
			continue
		}
		idx = append(idx, n)
		byIdx[n] = t.fields[k]
	}
	if !ok {
		return nil, false
	}
	sort.Ints(idx)
	for i, n := range idx {
		if n != i+1 {
			d.fail(path, "list indexes must run from 1 to %d without gaps; %s.%d is missing", len(idx), path, i+1)
			return nil, false
		}
	}
	items := make([]*tree, len(idx))
	for i, n := range idx {
		items[i] = byIdx[n]
	}
	return items, true
}

// structFields maps wire names to field indexes, embedded structs included.
type structFields struct {
	byName map[string][]int
}

func (f structFields) suggest(key string) string {
	for name := range f.byName {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

var fieldCache sync.Map // reflect.Type → structFields

func fieldsOf(t reflect.Type) structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(structFields)
	}
	f := structFields{byName: map[string][]int{}}
	collectFields(t, nil, f.byName)
	fieldCache.Store(t, f)
	return f
}

func collectFields(t reflect.Type, prefix []int, into map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			collectFields(sf.Type, index, into)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		name := wireName(sf)
		if name == "" {
			continue
		}
		into[name] = index
	}
}

// wireName is the field's name on the wire: its json name.
func wireName(sf reflect.StructField) string {
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return sf.Name
	}
	return name
}
