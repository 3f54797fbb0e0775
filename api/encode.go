package api

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
)

// EncodeValues flattens a request struct into the RPC form the SDKs send:
// Name.N.Field for lists of objects, Name.N for lists of scalars, Name.Field
// for objects. Zero values are left out, as the SDKs leave out unset fields;
// a pointer that is set is written even when it points at zero.
func EncodeValues(in any) url.Values {
	out := url.Values{}
	v := reflect.ValueOf(in)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return out
		}
		v = v.Elem()
	}
	encodeValue(out, "", v, false)
	return out
}

func encodeValue(out url.Values, path string, v reflect.Value, keepZero bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			encodeValue(out, path, v.Elem(), true)
		}
		return
	case reflect.Struct:
		encodeStruct(out, path, v)
		return
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			encodeValue(out, join(path, strconv.Itoa(i+1)), v.Index(i), true)
		}
		return
	}
	if v.IsZero() && !keepZero {
		return
	}
	switch v.Kind() {
	case reflect.String:
		out.Set(path, v.String())
	case reflect.Bool:
		out.Set(path, strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		out.Set(path, strconv.FormatInt(v.Int(), 10))
	case reflect.Uint32: // FileMode: the SDKs send modes in decimal
		out.Set(path, strconv.FormatUint(v.Uint(), 10))
	case reflect.Float64, reflect.Float32:
		out.Set(path, strconv.FormatFloat(v.Float(), 'f', -1, 64))
	default:
		panic(fmt.Sprintf("api: cannot encode %s", v.Type()))
	}
}

func encodeStruct(out url.Values, path string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			encodeStruct(out, path, v.Field(i))
			continue
		}
		if name := wireName(sf); name != "" && sf.IsExported() {
			encodeValue(out, join(path, name), v.Field(i), false)
		}
	}
}
