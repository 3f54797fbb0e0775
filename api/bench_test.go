package api

import (
	"os"
	"testing"
)

// The decoders sit on the API's hot path: every request goes through one.
func benchmarkDecode(b *testing.B, file string, format Format) {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var req CreateContainerGroupRequest
		if err := Decode(data, format, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRPC(b *testing.B) { benchmarkDecode(b, "../examples/every-field.rpc", FormatRPC) }
func BenchmarkDecodeJSON(b *testing.B) {
	benchmarkDecode(b, "../examples/every-field.json", FormatJSON)
}
func BenchmarkDecodeYAML(b *testing.B) {
	benchmarkDecode(b, "../examples/every-field.yaml", FormatYAML)
}

func BenchmarkNormalize(b *testing.B) {
	data, err := os.ReadFile("../examples/every-field.json")
	if err != nil {
		b.Fatal(err)
	}
	var base CreateContainerGroupRequest
	if err := Decode(data, FormatJSON, &base); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := base
		if err := req.Validate(); err == nil {
			continue
		}
	}
}
