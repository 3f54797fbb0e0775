package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"leci/api"
)

// MaxClockSkew is how far a signed time may be from the server's clock.
const MaxClockSkew = 15 * time.Minute

// MaxNonceBytes bounds a signature nonce: the SDKs send 32 hex digits or a
// UUID, and every nonce is remembered for 2*MaxClockSkew.
const MaxNonceBytes = 128

// Signature schemes.
const (
	v3Algorithm     = "ACS3-HMAC-SHA256"
	v1Method        = "HMAC-SHA1"
	v1Version       = "1.0"
	emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func authError(code string, status int, format string, args ...any) *api.Error {
	return &api.Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func incomplete(format string, args ...any) *api.Error {
	return authError("IncompleteSignature", http.StatusBadRequest, format, args...)
}

// authenticator checks the signature of requests that did not come through
// the unix socket.
type authenticator struct {
	keys   map[string]string
	now    func() time.Time
	nonces *nonceCache
}

// verify checks a request's signature, then its time and nonce. The nonce is
// remembered only once everything else has passed.
func (a *authenticator) verify(r *http.Request, query, form url.Values, body []byte) error {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, _, _ := strings.Cut(auth, " ")
		if scheme != v3Algorithm {
			return incomplete("the Authorization scheme %q is not supported; use %s or the RPC signature (SignatureMethod=%s)", scheme, v3Algorithm, v1Method)
		}
		return a.verifyV3(r, query, auth, body)
	}
	if query.Has("Signature") || form.Has("Signature") {
		return a.verifyV1(r, query, form)
	}
	return incomplete("the request is not signed: requests over TCP must carry an %s Authorization header or a Signature parameter", v3Algorithm)
}

// verifyV3 checks an ACS3-HMAC-SHA256 signature (wire-protocol.md §3).
func (a *authenticator) verifyV3(r *http.Request, query url.Values, auth string, body []byte) error {
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, v3Algorithm), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	akID, signedList, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if akID == "" || signedList == "" || signature == "" {
		return incomplete("the Authorization header must carry Credential, SignedHeaders and Signature")
	}
	signed := strings.Split(strings.ToLower(signedList), ";")
	for _, h := range []string{"host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if !slices.Contains(signed, h) {
			return incomplete("SignedHeaders must include %s", h)
		}
	}
	for name := range r.Header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-acs-") && !slices.Contains(signed, n) {
			return incomplete("SignedHeaders must include every x-acs-* header; %s is not signed", n)
		}
	}
	if len(body) > 0 && r.Header.Get("Content-Type") != "" && !slices.Contains(signed, "content-type") {
		return incomplete("SignedHeaders must include content-type for a request with a body")
	}
	secret, ok := a.keys[akID]
	if !ok {
		return authError("InvalidAccessKeyId.NotFound", http.StatusNotFound, "the AccessKey id %q is not configured on this leci daemon", akID)
	}
	sum := sha256.Sum256(body)
	hashed := hex.EncodeToString(sum[:])
	if got := r.Header.Get("x-acs-content-sha256"); got != hashed {
		return authError("SignatureDoesNotMatch", http.StatusBadRequest, "x-acs-content-sha256 %q is not the SHA-256 of the body (%s)", got, hashed)
	}
	sts := v3StringToSign(r.Method, r.URL.EscapedPath(), query, signed, func(h string) string { return headerValue(r, h) }, hashed)
	want := v3Signature(secret, sts)
	if !hmac.Equal([]byte(strings.ToLower(signature)), []byte(want)) {
		return authError("SignatureDoesNotMatch", http.StatusBadRequest,
			"the request signature does not match leci's calculation; the string to sign is %q", sts)
	}
	at, err := parseSignedTime(r.Header.Get("x-acs-date"), "x-acs-date")
	if err != nil {
		return err
	}
	return a.checkTimeAndNonce(akID, at, r.Header.Get("x-acs-signature-nonce"), "x-acs-signature-nonce")
}

// headerValue is the value of a signed header: Host is r.Host, others are
// trimmed and, when repeated, joined with commas.
func headerValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	vs := r.Header.Values(name)
	for i := range vs {
		vs[i] = strings.TrimSpace(vs[i])
	}
	return strings.Join(vs, ",")
}

// v3StringToSign builds the ACS3-HMAC-SHA256 string to sign.
func v3StringToSign(method, path string, query url.Values, signed []string, header func(string) string, hashedPayload string) string {
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(method + "\n" + path + "\n" + canonicalQuery(query) + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + strings.TrimSpace(header(h)) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + hashedPayload)
	sum := sha256.Sum256([]byte(b.String()))
	return v3Algorithm + "\n" + hex.EncodeToString(sum[:])
}

func v3Signature(secret, stringToSign string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyV1 checks an RPC HMAC-SHA1 signature (wire-protocol.md §3).
func (a *authenticator) verifyV1(r *http.Request, query, form url.Values) error {
	params := url.Values{}
	for _, vs := range []url.Values{query, form} {
		for k, v := range vs {
			params[k] = append(params[k], v...)
		}
	}
	signature := params.Get("Signature")
	params.Del("Signature")
	for _, p := range []string{"AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"} {
		if params.Get(p) == "" {
			return incomplete("the signed request lacks %s", p)
		}
	}
	if m := params.Get("SignatureMethod"); m != v1Method {
		return incomplete("SignatureMethod %q is not supported; use %s", m, v1Method)
	}
	if v := params.Get("SignatureVersion"); v != v1Version {
		return incomplete("SignatureVersion %q is not supported; use %s", v, v1Version)
	}
	akID := params.Get("AccessKeyId")
	secret, ok := a.keys[akID]
	if !ok {
		return authError("InvalidAccessKeyId.NotFound", http.StatusNotFound, "the AccessKey id %q is not configured on this leci daemon", akID)
	}
	sts := v1StringToSign(r.Method, params)
	want := v1Signature(secret, sts)
	if !hmac.Equal([]byte(signature), []byte(want)) {
		return authError("SignatureDoesNotMatch", http.StatusBadRequest,
			"the request signature does not match leci's calculation; the string to sign is %q", sts)
	}
	at, err := parseSignedTime(params.Get("Timestamp"), "Timestamp")
	if err != nil {
		return err
	}
	return a.checkTimeAndNonce(akID, at, params.Get("SignatureNonce"), "SignatureNonce")
}

// v1StringToSign builds the RPC string to sign from every parameter but
// Signature, empty values included.
func v1StringToSign(method string, params url.Values) string {
	return method + "&%2F&" + pct(canonicalQuery(params))
}

func v1Signature(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// canonicalQuery is the pairs sorted by key (then value), each
// pct(k)=pct(v), joined with &.
func canonicalQuery(values url.Values) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, pair{k, v})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = pct(p.k) + "=" + pct(p.v)
	}
	return strings.Join(parts, "&")
}

// pct is RFC 3986 percent-encoding: A-Za-z0-9-_.~ as they are, everything
// else (space too) as %XX.
func pct(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

func parseSignedTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, incomplete("the signed request lacks %s", name)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, authError("InvalidTimeStamp.Format", http.StatusBadRequest,
			"%s %q is not a UTC time such as 2006-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

func (a *authenticator) checkTimeAndNonce(akID string, at time.Time, nonce, nonceName string) error {
	now := a.now()
	if d := now.Sub(at); d > MaxClockSkew || d < -MaxClockSkew {
		return authError("InvalidTimeStamp.Expired", http.StatusBadRequest,
			"the signed time %s is more than %s from the server's time %s", at.UTC().Format(time.RFC3339), MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	if nonce == "" {
		return incomplete("the signed request lacks %s", nonceName)
	}
	if len(nonce) > MaxNonceBytes {
		return &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: nonceName,
			Message: fmt.Sprintf("is %d bytes long; at most %d are accepted", len(nonce), MaxNonceBytes)}
	}
	switch a.nonces.use(akID, nonce, now) {
	case nonceUsed:
		return authError("SignatureNonceUsed", http.StatusBadRequest, "the %s %q was used before", nonceName, nonce)
	case nonceFull:
		return authError("Throttling.User", http.StatusBadRequest, "too many signed requests with AccessKey %s; try again later", akID)
	}
	return nil
}

// nonceCache remembers the nonces of accepted requests for ttl, per
// AccessKey and at most max of them per AccessKey, so that one key cannot
// use up the others' room and memory stays bounded by the configured keys.
// A nonce counts only after its request's signature has been checked, so
// only holders of a secret fill their key's room.
type nonceCache struct {
	mu    sync.Mutex
	byKey map[string]*nonceQueue
	max   int
	ttl   time.Duration
}

// nonceQueue holds one AccessKey's nonces in arrival order, which is also
// the order they expire in, so expiry pops from the front.
type nonceQueue struct {
	seen  map[string]struct{}
	queue []nonceEntry
	head  int
}

type nonceEntry struct {
	nonce   string
	expires time.Time
}

type nonceResult int

const (
	nonceNew nonceResult = iota
	nonceUsed
	nonceFull
)

func newNonceCache(max int, ttl time.Duration) *nonceCache {
	return &nonceCache{byKey: map[string]*nonceQueue{}, max: max, ttl: ttl}
}

// use records akID's nonce at now and says whether it is new. When akID
// holds max unexpired nonces it refuses the new one rather than forget an
// old one, so that a nonce is never accepted twice.
func (c *nonceCache) use(akID, nonce string, now time.Time) nonceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.byKey[akID]
	if q == nil {
		q = &nonceQueue{seen: map[string]struct{}{}}
		c.byKey[akID] = q
	}
	for q.head < len(q.queue) && !now.Before(q.queue[q.head].expires) {
		delete(q.seen, q.queue[q.head].nonce)
		q.queue[q.head] = nonceEntry{}
		q.head++
	}
	if q.head > len(q.queue)/2 {
		q.queue = append(q.queue[:0], q.queue[q.head:]...)
		q.head = 0
	}
	if _, ok := q.seen[nonce]; ok {
		return nonceUsed
	}
	if len(q.seen) >= c.max {
		return nonceFull
	}
	q.seen[nonce] = struct{}{}
	q.queue = append(q.queue, nonceEntry{nonce: nonce, expires: now.Add(c.ttl)})
	return nonceNew
}
