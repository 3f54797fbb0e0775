package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SignV1 adds the RPC signature parameters to params, as the legacy SDK and
// the aliyun CLI do: AccessKeyId, Format, SignatureMethod, SignatureNonce,
// SignatureVersion, Timestamp and Signature for a request made with method.
// An empty nonce gets a random one.
func SignV1(method string, params url.Values, accessKeyID, secret string, now time.Time, nonce string) {
	if nonce == "" {
		nonce = NewNonce()
	}
	params.Del("Signature")
	params.Set("AccessKeyId", accessKeyID)
	params.Set("Format", "JSON")
	params.Set("SignatureMethod", v1Method)
	params.Set("SignatureNonce", nonce)
	params.Set("SignatureVersion", v1Version)
	params.Set("Timestamp", now.UTC().Format("2006-01-02T15:04:05Z"))
	params.Set("Signature", v1Signature(secret, v1StringToSign(method, params)))
}

// SignV3 signs r with ACS3-HMAC-SHA256, as the tea SDK does: it sets
// x-acs-date, x-acs-signature-nonce and x-acs-content-sha256 for body (the
// request's body, which the caller sets itself) and the Authorization header
// over host and every x-acs-* header (and content-type when set).
func SignV3(r *http.Request, body []byte, accessKeyID, secret string, now time.Time, nonce string) {
	if nonce == "" {
		nonce = NewNonce()
	}
	sum := sha256.Sum256(body)
	hashed := hex.EncodeToString(sum[:])
	r.Header.Set("x-acs-date", now.UTC().Format("2006-01-02T15:04:05Z"))
	r.Header.Set("x-acs-signature-nonce", nonce)
	r.Header.Set("x-acs-content-sha256", hashed)
	signed := []string{"host"}
	for name := range r.Header {
		n := strings.ToLower(name)
		if strings.HasPrefix(n, "x-acs-") || n == "content-type" {
			signed = append(signed, n)
		}
	}
	sort.Strings(signed)
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	header := func(h string) string {
		if h == "host" {
			return host
		}
		return r.Header.Get(h)
	}
	sts := v3StringToSign(r.Method, r.URL.EscapedPath(), r.URL.Query(), signed, header, hashed)
	r.Header.Set("Authorization", v3Algorithm+" Credential="+accessKeyID+",SignedHeaders="+strings.Join(signed, ";")+",Signature="+v3Signature(secret, sts))
}

// NewNonce returns a random signature nonce.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
