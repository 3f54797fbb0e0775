package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leci/api"
)

// capturesDir is the reference material beside the repository. It is always
// there in CI; a developer without it skips the tests that read it.
const capturesDir = "../../shared/reference/wire-captures"

// capture is one request of wire-captures/, as the SDK sent it.
type capture struct {
	name string
	raw  string
	at   time.Time
	v3   bool
}

func loadCaptures(t *testing.T) []capture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "*-v[13].txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no reference captures in %s", capturesDir)
		}
		t.Skipf("no reference captures in %s", capturesDir)
	}
	var out []capture
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw, _, ok := strings.Cut(string(data), "\n--- decoded params")
		if !ok {
			t.Fatalf("%s: no decoded-params section", f)
		}
		c := capture{name: filepath.Base(f), raw: raw}
		r := c.request(t)
		date := r.Header.Get("x-acs-date")
		c.v3 = date != ""
		if !c.v3 {
			date = r.URL.Query().Get("Timestamp")
		}
		if c.at, err = time.Parse(time.RFC3339, date); err != nil {
			t.Fatalf("%s: date %q: %v", f, date, err)
		}
		out = append(out, c)
	}
	return out
}

// request parses the capture into a server-side request, as it arrived.
func (c capture) request(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(c.raw + "\n")))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

func TestCaptureSignatures(t *testing.T) {
	want := map[string]bool{
		"create-tea-v3.txt": true, "create-tea-v1.txt": true, "create-legacy-v1.txt": true,
		"delete-tea-v3.txt": true, "describe-tea-v3.txt": true, "events-tea-v3.txt": true,
		"exec-tea-v3.txt": true, "logs-tea-v3.txt": true, "restart-tea-v3.txt": true,
	}
	for _, c := range loadCaptures(t) {
		delete(want, c.name)
		t.Run(c.name, func(t *testing.T) {
			now := c.at.Add(3 * time.Minute)
			clock := func(o *Options) { o.Now = func() time.Time { return now } }
			r := c.request(t)
			body, _ := io.ReadAll(r.Body)
			query, _ := url.ParseQuery(r.URL.RawQuery)
			form, _ := parseForm(r.Header.Get("Content-Type"), body)
			if err := newTestEnv(t, clock).srv.auth.verify(r, query, form, body); err != nil {
				t.Fatalf("verify: %v", err)
			}
			e := newTestEnv(t, clock)

			// Through the handler: authenticated and answered (the groups
			// the captures name do not exist here: 404 is an answer too).
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, c.request(t))
			var er api.ErrorResponse
			json.Unmarshal(w.Body.Bytes(), &er)
			if w.Code != http.StatusOK && er.Code != CodeGroupNotFound {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if strings.HasPrefix(c.name, "create-") && w.Code != http.StatusOK {
				t.Fatalf("create: %d %s", w.Code, w.Body)
			}

			// The same request again: the nonce is spent.
			w = httptest.NewRecorder()
			e.srv.ServeHTTP(w, c.request(t))
			checkError(t, w.Code, w.Body.Bytes(), http.StatusBadRequest, "SignatureNonceUsed")
		})
	}
	for name := range want {
		t.Errorf("capture %s not found", name)
	}
}

func TestCaptureSignatureFailures(t *testing.T) {
	for _, c := range loadCaptures(t) {
		t.Run(c.name, func(t *testing.T) {
			answer := func(mutate func(*Options), change func(*http.Request)) (int, []byte) {
				e := newTestEnv(t, func(o *Options) { o.Now = func() time.Time { return c.at } }, mutate)
				r := c.request(t)
				change(r)
				w := httptest.NewRecorder()
				e.srv.ServeHTTP(w, r)
				return w.Code, w.Body.Bytes()
			}
			none := func(*Options) {}
			same := func(*http.Request) {}

			// The clock 16 minutes either way.
			for _, d := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
				status, body := answer(func(o *Options) { o.Now = func() time.Time { return c.at.Add(d) } }, same)
				checkError(t, status, body, http.StatusBadRequest, "InvalidTimeStamp.Expired")
			}
			// Another secret.
			status, body := answer(func(o *Options) {
				o.AccessKeys = map[string]string{"testak": "othersecret", "LTAI_testak": "othersecret"}
			}, same)
			checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
			// An unknown key.
			status, body = answer(func(o *Options) { o.AccessKeys = map[string]string{"someone": "testsecret"} }, same)
			checkError(t, status, body, http.StatusNotFound, "InvalidAccessKeyId.NotFound")
			// A parameter changed on the way.
			status, body = answer(none, func(r *http.Request) {
				q := r.URL.Query()
				q.Set("RegionId", "cn-beijing")
				r.URL.RawQuery = q.Encode()
			})
			checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
			// Another host.
			if c.v3 {
				status, body = answer(none, func(r *http.Request) { r.Host = "127.0.0.1:9999" })
				checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
				// A signed header changed, and an x-acs header added, after signing.
				status, body = answer(none, func(r *http.Request) { r.Header.Set("x-acs-action", "RunInstances") })
				checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
				status, body = answer(none, func(r *http.Request) { r.Header.Set("x-acs-extra", "1") })
				checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
			}
		})
	}
}

// liveEnv is a server on a TCP listener, as a remote client sees it.
func liveEnv(t *testing.T, mutate ...func(*Options)) (*testEnv, *httptest.Server) {
	t.Helper()
	e := newTestEnv(t, mutate...)
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	return e, ts
}

// sendV3 sends params as a v3-signed POST query.
func sendV3(t *testing.T, base string, params url.Values, ak, secret string, at time.Time, nonce string) (int, []byte) {
	t.Helper()
	return send(t, signedV3(t, base, params, ak, secret, at, nonce))
}

// signedV3 is params as a v3-signed POST query to base.
func signedV3(t *testing.T, base string, params url.Values, ak, secret string, at time.Time, nonce string) *http.Request {
	t.Helper()
	action := params.Get("Action")
	q := url.Values{}
	for k, v := range params {
		if k != "Action" && k != "Version" {
			q[k] = v
		}
	}
	r, err := http.NewRequest(http.MethodPost, base+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("x-acs-action", action)
	r.Header.Set("x-acs-version", APIVersion)
	SignV3(r, nil, ak, secret, at, nonce)
	return r
}

// sendV1 sends params as a v1-signed POST query.
func sendV1(t *testing.T, base string, params url.Values, ak, secret string, at time.Time, nonce string) (int, []byte) {
	t.Helper()
	return send(t, signedV1(t, base, params, ak, secret, at, nonce))
}

// signedV1 is params as a v1-signed POST query to base.
func signedV1(t *testing.T, base string, params url.Values, ak, secret string, at time.Time, nonce string) *http.Request {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	SignV1(http.MethodPost, q, ak, secret, at, nonce)
	r, err := http.NewRequest(http.MethodPost, base+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func send(t *testing.T, r *http.Request) (int, []byte) {
	t.Helper()
	return sendWith(t, http.DefaultClient, r)
}

func sendWith(t *testing.T, client *http.Client, r *http.Request) (int, []byte) {
	t.Helper()
	res, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}

func TestLiveSignatures(t *testing.T) {
	e, ts := liveEnv(t)
	id := e.create(t, webRequest("live"))
	describe := action("DescribeContainerGroups", "ContainerGroupIds", `["`+id+`"]`)
	for _, tc := range []struct {
		name string
		send func(*testing.T, string, url.Values, string, string, time.Time, string) (int, []byte)
	}{{"v3", sendV3}, {"v1", sendV1}} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			status, body := tc.send(t, ts.URL, describe, "testak", "testsecret", now, "")
			if status != http.StatusOK || !strings.Contains(string(body), id) {
				t.Fatalf("good request: %d %s", status, body)
			}
			status, body = tc.send(t, ts.URL, describe, "testak", "wrongsecret", now, "")
			checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
			status, body = tc.send(t, ts.URL, describe, "nobody", "testsecret", now, "")
			checkError(t, status, body, http.StatusNotFound, "InvalidAccessKeyId.NotFound")
			nonce := NewNonce()
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now, nonce)
			if status != http.StatusOK {
				t.Fatalf("first use of a nonce: %d %s", status, body)
			}
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now, nonce)
			checkError(t, status, body, http.StatusBadRequest, "SignatureNonceUsed")
			// A nonce is at most MaxNonceBytes long.
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now, tc.name+strings.Repeat("n", MaxNonceBytes-len(tc.name)))
			if status != http.StatusOK {
				t.Fatalf("a nonce of %d bytes: %d %s", MaxNonceBytes, status, body)
			}
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now, strings.Repeat("n", MaxNonceBytes+1))
			checkError(t, status, body, http.StatusBadRequest, "InvalidParameter")
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now.Add(-20*time.Minute), "")
			checkError(t, status, body, http.StatusBadRequest, "InvalidTimeStamp.Expired")
			status, body = tc.send(t, ts.URL, describe, "testak", "testsecret", now.Add(14*time.Minute), "")
			if status != http.StatusOK {
				t.Errorf("14 minutes ahead: %d %s", status, body)
			}
		})
	}

	// Nothing is done for a request that fails authentication.
	before := e.groups.creates
	status, body := sendV3(t, ts.URL, webRequest("nope"), "testak", "wrongsecret", time.Now(), "")
	checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
	if e.groups.creates != before {
		t.Error("a request with a bad signature created a group")
	}

	// Unsigned over TCP.
	r, _ := http.NewRequest(http.MethodPost, ts.URL+"/?Action=DescribeContainerGroups", nil)
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
	// v1 without a nonce, and with another method.
	q := action("DescribeContainerGroups")
	SignV1(http.MethodPost, q, "testak", "testsecret", time.Now(), "")
	q.Del("SignatureNonce")
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/?"+q.Encode(), nil)
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
	q = action("DescribeContainerGroups")
	SignV1(http.MethodPost, q, "testak", "testsecret", time.Now(), "")
	q.Set("SignatureMethod", "HMAC-MD5")
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/?"+q.Encode(), nil)
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
	// v1 signed for GET, sent as POST.
	q = action("DescribeContainerGroups")
	SignV1(http.MethodGet, q, "testak", "testsecret", time.Now(), "")
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/?"+q.Encode(), nil)
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
	// v1 with a bad Timestamp.
	q = action("DescribeContainerGroups")
	SignV1(http.MethodPost, q, "testak", "testsecret", time.Now(), "")
	q.Set("Timestamp", "yesterday")
	q.Del("Signature")
	q.Set("Signature", v1Signature("testsecret", v1StringToSign(http.MethodPost, q)))
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/?"+q.Encode(), nil)
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "InvalidTimeStamp.Format")
	// Another Authorization scheme.
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/?Action=DescribeContainerGroups", nil)
	r.Header.Set("Authorization", "acs testak:c2lnbmF0dXJl")
	status, body = send(t, r)
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
}

// A v3 request with a signed form body.
func TestLiveV3FormBody(t *testing.T) {
	_, ts := liveEnv(t)
	body := []byte(webRequest("formv3").Encode())
	r, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	SignV3(r, body, "testak", "testsecret", time.Now(), "")
	status, answer := send(t, r)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, answer)
	}
	// The body changed after signing.
	r, _ = http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(string(body)+"&Cpu=2"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	SignV3(r, body, "testak", "testsecret", time.Now(), "")
	status, answer = send(t, r)
	checkError(t, status, answer, http.StatusBadRequest, "SignatureDoesNotMatch")
}

// Requests through a real unix socket need no signature.
func TestUnixSocketNeedsNoSignature(t *testing.T) {
	e := newTestEnv(t)
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: e.srv}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	res, err := client.Post("http://leci/?"+action("DescribeContainerGroups").Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

func TestNonceCache(t *testing.T) {
	c := newNonceCache(2, time.Minute)
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		key, nonce string
		at         time.Duration
		want       nonceResult
	}{
		{"ak1", "a", 0, nonceNew},
		{"ak1", "a", time.Second, nonceUsed},
		{"ak1", "b", 2 * time.Second, nonceNew},
		{"ak1", "c", 3 * time.Second, nonceFull}, // never forget a live nonce
		// Another key has its own room, and its own nonces.
		{"ak2", "c", 3 * time.Second, nonceNew},
		{"ak2", "a", 4 * time.Second, nonceNew},
		{"ak2", "d", 4 * time.Second, nonceFull},
		{"ak1", "a", 59 * time.Second, nonceUsed},
		{"ak1", "c", 60 * time.Second, nonceNew}, // a expired
		{"ak1", "a", 61 * time.Second, nonceFull},
		{"ak1", "a", 63 * time.Second, nonceNew}, // b expired
	} {
		if got := c.use(tc.key, tc.nonce, t0.Add(tc.at)); got != tc.want {
			t.Errorf("%s %s at %s: got %d, want %d", tc.key, tc.nonce, tc.at, got, tc.want)
		}
	}
}

// One AccessKey that uses up its nonces does not throttle another.
func TestNonceQuotaPerAccessKey(t *testing.T) {
	_, ts := liveEnv(t, func(o *Options) { o.MaxNonces = 3 })
	describe := action("DescribeContainerGroups")
	now := time.Now()
	for i := range 3 {
		if status, body := sendV3(t, ts.URL, describe, "testak", "testsecret", now, ""); status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	status, body := sendV3(t, ts.URL, describe, "testak", "testsecret", now, "")
	checkError(t, status, body, http.StatusBadRequest, "Throttling.User")
	if status, body := sendV1(t, ts.URL, describe, "LTAI_testak", "testsecret", now, ""); status != http.StatusOK {
		t.Fatalf("another AccessKey: %d %s", status, body)
	}
}

// The API over TLS, as `leci daemon --tls-cert --tls-key` serves it:
// signed requests work, unsigned ones are refused, and an interactive exec
// answers a wss:// WebSocketUri.
func TestLiveTLS(t *testing.T) {
	e := newTestEnv(t)
	ts := httptest.NewTLSServer(e.srv)
	t.Cleanup(ts.Close)
	client := ts.Client()
	id := e.create(t, webRequest("tls"))
	describe := action("DescribeContainerGroups", "ContainerGroupIds", `["`+id+`"]`)
	for name, r := range map[string]*http.Request{
		"v3": signedV3(t, ts.URL, describe, "testak", "testsecret", time.Now(), ""),
		"v1": signedV1(t, ts.URL, describe, "testak", "testsecret", time.Now(), ""),
	} {
		status, body := sendWith(t, client, r)
		if status != http.StatusOK || !strings.Contains(string(body), id) {
			t.Errorf("%s over TLS: %d %s", name, status, body)
		}
	}
	r, _ := http.NewRequest(http.MethodPost, ts.URL+"/?"+describe.Encode(), nil)
	status, body := sendWith(t, client, r)
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")

	exec := action("ExecContainerCommand", "ContainerGroupId", id, "ContainerName", "web", "Command", `["sh"]`)
	status, body = sendWith(t, client, signedV3(t, ts.URL, exec, "testak", "testsecret", time.Now(), ""))
	if status != http.StatusOK || !strings.Contains(string(body), `"WebSocketUri":"wss://`) {
		t.Errorf("ExecContainerCommand over TLS: %d %s", status, body)
	}
}

func TestPct(t *testing.T) {
	for in, want := range map[string]string{
		"a b":     "a%20b",
		"a*b":     "a%2Ab",
		"a~b":     "a~b",
		"a+b":     "a%2Bb",
		"-_.":     "-_.",
		"中":       "%E4%B8%AD",
		"[\"x\"]": "%5B%22x%22%5D",
	} {
		if got := pct(in); got != want {
			t.Errorf("pct(%q) = %q, want %q", in, got, want)
		}
	}
}
