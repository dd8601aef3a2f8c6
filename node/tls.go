package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files lienthong init --tls writes: a self-signed certificate for the API
// and its key.
const (
	TLSCertFile = "tls.crt"
	TLSKeyFile  = "tls.key"
)

// TLS reports whether the API serves HTTPS.
func (c *Config) TLS() bool { return c.API.TLSCertFile != "" }

// APIURL is the base URL of the API at host:port addr.
func (c *Config) APIURL(addr string) string {
	if c.TLS() {
		return "https://" + addr
	}
	return "http://" + addr
}

// TLSFiles returns the certificate and key files, relative paths taken from
// the node directory.
func (c *Config) TLSFiles() (cert, key string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	return abs(c.API.TLSCertFile), abs(c.API.TLSKeyFile)
}

// validateTLS checks that both files are set or neither, and that they hold
// a certificate and its key.
func (c *Config) validateTLS() error {
	if (c.API.TLSCertFile == "") != (c.API.TLSKeyFile == "") {
		return fmt.Errorf("api.tls_cert_file %q, api.tls_key_file %q: set both (HTTPS) or neither (HTTP)", c.API.TLSCertFile, c.API.TLSKeyFile)
	}
	if !c.TLS() {
		return nil
	}
	cert, key := c.TLSFiles()
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		return fmt.Errorf("api.tls_cert_file %s, api.tls_key_file %s: %v (lienthong init --tls makes a self-signed pair; or give a PEM certificate chain and its key)", cert, key, err)
	}
	return nil
}

// certReloader serves the API's certificate and picks up a new one when
// the files change, so a renewed certificate needs no restart. A pair that
// does not load keeps the previous one and is logged.
type certReloader struct {
	cert, key string
	logger    *slog.Logger

	mu      sync.Mutex
	cur     *tls.Certificate
	mod     [2]time.Time
	checked time.Time
}

func newCertReloader(cert, key string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{cert: cert, key: key, logger: logger}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		return fmt.Errorf("load the API's TLS certificate %s and key %s: %w", r.cert, r.key, err)
	}
	r.cur = &c
	r.mod = r.modTimes()
	return nil
}

func (r *certReloader) modTimes() (m [2]time.Time) {
	for i, f := range []string{r.cert, r.key} {
		if fi, err := os.Stat(f); err == nil {
			m[i] = fi.ModTime()
		}
	}
	return m
}

// get is tls.Config.GetCertificate: it looks at the files at most once a
// second.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) > time.Second {
		r.checked = now
		if r.modTimes() != r.mod {
			if err := r.reload(); err != nil {
				r.logger.Warn("TLS certificate changed but does not load; serving the previous one", "err", err)
				r.mod = r.modTimes()
			} else {
				r.logger.Info("TLS certificate reloaded", "cert", r.cert)
			}
		}
	}
	return r.cur, nil
}

// WriteSelfSignedCert writes TLSCertFile and TLSKeyFile in dir: an ECDSA
// P-256 certificate valid for ten years for hosts (names or IP addresses,
// localhost and 127.0.0.1 always included). Clients trust it with
// --ca-cert DIR/tls.crt.
func WriteSelfSignedCert(dir, name string, hosts []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "lienthong " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	for _, h := range append([]string{"localhost", "127.0.0.1"}, hosts...) {
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, TLSKeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, TLSCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
