package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/api"
)

var errUnreachable = errors.New("node unreachable")

// clientFlags are the connection flags every client command takes.
type clientFlags struct {
	api, token, dir, caCert string
	json                    bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.api, "api", "", "node API URL (default $LIENTHONG_API, or from --dir)")
	fs.StringVar(&c.caCert, "ca-cert", "", "PEM file of the CA (or self-signed certificate) an https API's certificate must chain to, besides the system's (default $LIENTHONG_CA_CERT; with --dir, also the node's own certificate)")
	fs.StringVar(&c.token, "token", "", "bearer token (default $LIENTHONG_TOKEN, or from --dir)")
	fs.StringVar(&c.dir, "dir", "", "local node directory to take the API URL and admin token from")
	fs.BoolVar(&c.json, "json", false, "print machine-readable JSON")
}

// Client talks to a node's API.
type Client struct {
	base, token string
	http        *http.Client
}

// client resolves the flags, the environment and the node directory.
func (c *clientFlags) client(io *IO) (*Client, error) {
	base, token := c.api, c.token
	var cas []string
	if c.caCert != "" {
		cas = append(cas, c.caCert)
	} else if env := io.getenv("LIENTHONG_CA_CERT"); env != "" {
		cas = append(cas, env)
	}
	if c.dir != "" {
		cfg, err := node.LoadConfig(c.dir)
		if err != nil {
			return nil, err
		}
		if cfg.TLS() {
			cert, _ := cfg.TLSFiles()
			cas = append(cas, cert)
		}
		if base == "" {
			base = cfg.APIURL(cfg.API.Listen)
			if _, port, _ := net.SplitHostPort(cfg.API.Listen); port == "0" {
				// The node picked its port: it wrote it down.
				a, err := node.ReadAddresses(c.dir)
				if err != nil {
					return nil, fmt.Errorf("api.listen has port 0, so the API's port is known only to the running node: %w", err)
				}
				base = cfg.APIURL(a.API)
			}
		}
		if token == "" {
			b, err := os.ReadFile(filepath.Join(c.dir, node.AdminTokenFile))
			if err != nil {
				return nil, fmt.Errorf("read the admin token: %w", err)
			}
			token = strings.TrimSpace(string(b))
		}
	}
	if base == "" {
		base = io.getenv("LIENTHONG_API")
	}
	if token == "" {
		token = io.getenv("LIENTHONG_TOKEN")
	}
	if base == "" {
		return nil, usagef("no node to talk to: give --api URL, set LIENTHONG_API, or give --dir of a local node")
	}
	if token == "" {
		return nil, usagef("no token: give --token, set LIENTHONG_TOKEN, or give --dir of a local node")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	hc := newHTTPClient(5 * time.Minute)
	if len(cas) > 0 {
		pool, err := caPool(cas)
		if err != nil {
			return nil, err
		}
		hc = newHTTPClientTLS(5*time.Minute, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}, nil
}

// caPool is the system's roots plus the PEM certificates in files.
func caPool(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, usagef("--ca-cert: %v", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, usagef("--ca-cert %s: no PEM certificate in it", f)
		}
	}
	return pool, nil
}

// streaming returns a copy of c without a timeout per request, for streams
// that last (changes --follow), which watch for a dead link themselves.
func (c *Client) streaming() *Client {
	cp := *c
	cp.http = &http.Client{Transport: c.http.Transport}
	return &cp
}

// APIError is an error answer from the node.
type APIError struct {
	Status int
	Detail api.ErrorDetail
}

func (e *APIError) Error() string {
	msg := e.Detail.Message
	if e.Detail.Field != "" && !strings.Contains(msg, e.Detail.Field) {
		msg = fmt.Sprintf("field %q: %s", e.Detail.Field, msg)
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.Status, e.Detail.Code)
}

// do sends a request with a JSON body (nil for none) and decodes the JSON
// answer into out (nil to discard).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.doWith(ctx, method, path, nil, body, out)
	return err
}

// doWith is do with the request headers h (nil for none); it returns the
// answer's headers.
func (c *Client) doWith(ctx context.Context, method, path string, h http.Header, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
		rd = bytes.NewReader(b)
	}
	if h == nil {
		h = http.Header{}
	}
	resp, err := c.sendWith(ctx, method, path, rd, h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.Header, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("%s %s: undecodable answer: %w", method, path, err)
	}
	return resp.Header, nil
}

// sendWith performs a request with the headers h and turns error
// statuses into *APIError.
func (c *Client) sendWith(ctx context.Context, method, path string, body io.Reader, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		var host x509.HostnameError
		if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) {
			return nil, fmt.Errorf("%w at %s: the node's TLS certificate is not trusted: %v (give its CA with --ca-cert or LIENTHONG_CA_CERT; a node made with init --tls: DIR/tls.crt)", errUnreachable, c.base, err)
		}
		return nil, fmt.Errorf("%w at %s: %v (is the node running?)", errUnreachable, c.base, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var eb api.ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error = api.ErrorDetail{Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		return nil, &APIError{Status: resp.StatusCode, Detail: eb.Error}
	}
	return resp, nil
}

// clientCommand parses the flags of a client command that has no flags of
// its own, checks its positionals and returns a client for the node.
func clientCommand(io *IO, name, usage string, args []string, minPos, maxPos int) (*Client, clientFlags, []string, error) {
	var cf clientFlags
	fs := newFlags(io, name, usage)
	cf.register(fs)
	pos, err := parseFlags(fs, args, minPos, maxPos)
	if err != nil {
		return nil, cf, nil, err
	}
	c, err := cf.client(io)
	return c, cf, pos, err
}
