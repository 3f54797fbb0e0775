package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tree is the form-neutral shape of a request that all three decoders build:
// a scalar (kept as text, so "0644" stays octal and "2.000000" a float), an
// object, or a list. The RPC form has no lists of its own: its lists are
// objects whose keys are the indexes 1..N, turned into lists by decodeList.
type tree struct {
	scalar    string
	hasScalar bool
	fields    map[string]*tree
	keys      []string // fields in input order, for stable error messages
	list      []*tree
	isList    bool
}

func (t *tree) setField(key string, child *tree) {
	if t.fields == nil {
		t.fields = map[string]*tree{}
	}
	t.fields[key] = child
	t.keys = append(t.keys, key)
}

// Limits that keep hostile input cheap: no request of the API comes close.
const (
	maxDepth   = 16
	maxRPCKeys = 20000
)

var errTooDeep = errors.New("nested too deeply")

// rpcTree builds the tree of a flattened RPC request. Each key is split on
// dots; a key given twice is an error; a key that is both a value and a
// parent (the legacy SDK's bare Exec.Command=...) keeps both and leaves the
// choice to the decoder.
func rpcTree(values url.Values) (*tree, Errors) {
	var errs Errors
	root := &tree{}
	keys := make([]string, 0, len(values))
	for k := range values {
		if !IsCommonParameter(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > maxRPCKeys {
		return nil, Errors{invalid("", "too many parameters (%d, at most %d)", len(keys), maxRPCKeys)}
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := values[k]
		if len(vs) > 1 {
			errs = append(errs, invalid(k, "is given %d times", len(vs)))
			continue
		}
		parts := strings.Split(k, ".")
		if len(parts) > maxDepth {
			errs = append(errs, invalid(k, "is %s", errTooDeep))
			continue
		}
		node := root
		bad := false
		for _, p := range parts {
			if p == "" {
				bad = true
				break
			}
			child := node.fields[p]
			if child == nil {
				child = &tree{}
				node.setField(p, child)
			}
			node = child
		}
		if bad {
			errs = append(errs, invalid(k, "is not a parameter name (empty part between dots)"))
			continue
		}
		node.scalar, node.hasScalar = vs[0], true
	}
	return root, errs
}

// commonParameters are the RPC protocol's own parameters (signature, action,
// version, format): the server uses them, the request types do not hold them.
var commonParameters = map[string]bool{
	"Action": true, "Version": true, "Format": true, "AccessKeyId": true,
	"Signature": true, "SignatureMethod": true, "SignatureVersion": true,
	"SignatureNonce": true, "SignatureType": true, "Timestamp": true,
	"SecurityToken": true, "BearerToken": true,
}

// IsCommonParameter reports whether key is a protocol parameter of the RPC
// style (Action, Signature, Timestamp, ...) rather than one of an action.
func IsCommonParameter(key string) bool { return commonParameters[key] }

// jsonTree builds the tree of a JSON document, refusing duplicate keys (which
// encoding/json would silently let the last one win) and dropping nulls.
func jsonTree(data []byte) (*tree, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	t, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("the document is null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON document")
	}
	return t, nil
}

func jsonValue(dec *json.Decoder, depth int) (*tree, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntax(err)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			t := &tree{fields: map[string]*tree{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, jsonSyntax(err)
				}
				key := kt.(string) // the decoder only yields string keys inside objects
				child, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := t.fields[key]; dup {
					return nil, fmt.Errorf("key %q is given twice", key)
				}
				if child == nil { // null: as if not given
					t.fields[key] = nil
					continue
				}
				t.setField(key, child)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonSyntax(err)
			}
			for k, c := range t.fields {
				if c == nil {
					delete(t.fields, k)
				}
			}
			return t, nil
		case '[':
			t := &tree{isList: true}
			for dec.More() {
				child, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if child == nil {
					return nil, fmt.Errorf("item %d of a list is null", len(t.list)+1)
				}
				t.list = append(t.list, child)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonSyntax(err)
			}
			return t, nil
		}
		return nil, fmt.Errorf("unexpected %q", v)
	case nil:
		return nil, nil
	case string:
		return &tree{scalar: v, hasScalar: true}, nil
	case json.Number:
		return &tree{scalar: v.String(), hasScalar: true}, nil
	case bool:
		return &tree{scalar: strconv.FormatBool(v), hasScalar: true}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func jsonSyntax(err error) error {
	if err == io.EOF {
		return errors.New("unexpected end of the JSON document")
	}
	return err
}

// yamlTree builds the tree of a YAML document. Scalars keep their text, so a
// mode written 0644 stays octal whatever YAML version the reader assumes.
func yamlTree(data []byte) (*tree, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errors.New("the document is empty")
	}
	t, err := yamlValue(doc.Content[0], 0)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("the document is null")
	}
	return t, nil
}

func yamlValue(n *yaml.Node, depth int) (*tree, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: aliases are not supported", n.Line)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return &tree{scalar: n.Value, hasScalar: true}, nil
	case yaml.SequenceNode:
		t := &tree{isList: true}
		for _, c := range n.Content {
			child, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			if child == nil {
				return nil, fmt.Errorf("line %d: a list item is null", c.Line)
			}
			t.list = append(t.list, child)
		}
		return t, nil
	case yaml.MappingNode:
		t := &tree{fields: map[string]*tree{}}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain name", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: merge keys are not supported", k.Line)
			}
			if _, dup := t.fields[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q is given twice", k.Line, k.Value)
			}
			child, err := yamlValue(v, depth+1)
			if err != nil {
				return nil, err
			}
			if child == nil {
				continue
			}
			t.setField(k.Value, child)
		}
		return t, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}
