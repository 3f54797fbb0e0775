package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"

	"leci/api"
)

// maxRequestFile bounds what is read from a request file: the API's own
// limits keep a real request far below it.
const maxRequestFile = 8 << 20

// readCreateRequest reads and decodes a CreateContainerGroup request from a
// file ("-" for standard input). The form is taken from format when given,
// else from the file's extension, else from the first character. Reading
// problems are usage errors; decoding problems are *api.Error values. A
// Kubernetes manifest (apiVersion and kind at the top) is mapped to the
// request, with what kube says it needs.
func readCreateRequest(stdin io.Reader, path, format string, kube ...kubeInput) (*api.CreateContainerGroupRequest, error) {
	if path == "" {
		return nil, usageErrorf("no request file: give -f FILE (or -f - for standard input)")
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxRequestFile+1))
	} else {
		data, err = readFileLimited(path)
	}
	if err != nil {
		return nil, usageErrorf("read request: %w", err)
	}
	if len(data) > maxRequestFile {
		return nil, usageErrorf("request file %s is larger than %d bytes", path, maxRequestFile)
	}
	if isKubeManifest(data) {
		return decodeKubeRequest(data, kube)
	}
	f, err := requestFormat(path, format, data)
	if err != nil {
		return nil, err
	}
	var req api.CreateContainerGroupRequest
	if err := api.Decode(data, f, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRequestFile+1))
}

func requestFormat(path, format string, data []byte) (api.Format, error) {
	switch strings.ToLower(format) {
	case "json":
		return api.FormatJSON, nil
	case "yaml", "yml":
		return api.FormatYAML, nil
	case "rpc", "query":
		return api.FormatRPC, nil
	case "":
	default:
		return "", usageErrorf("unknown --input-format %q: want json, yaml or rpc", format)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return api.FormatJSON, nil
	case ".yaml", ".yml":
		return api.FormatYAML, nil
	case ".rpc":
		return api.FormatRPC, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return api.FormatJSON, nil
	}
	return api.FormatYAML, nil
}
