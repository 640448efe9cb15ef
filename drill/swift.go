package drill

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/keyha/keyha/swift"
)

// The drill's Swift users: at every site with a proxy, a client puts an object through its own
// site's proxy, then reads back an object acknowledged at any site, with a token from its own
// site's Keystone (fetched again every tokenEvery, or when refused); at the end every object
// any proxy acknowledged is read back whole at every site.

const (
	container  = "keyha-drill"
	tokenEvery = 20 * time.Second
)

// SwiftResult is what the drill's Swift clients found.
type SwiftResult struct {
	Acked   int            `json:"acknowledged"`    // objects a proxy answered 201 with the right ETag
	ReadOK  map[string]int `json:"read_back"`       // site -> acknowledged objects read back whole after the drill
	Missing map[string]int `json:"missing"`         // site -> acknowledged objects missing or corrupt there
	Errors  []string       `json:"errors,omitzero"` // the first few of them
}

type object struct{ site, name, sum string }

// acked is the objects the proxies acknowledged. Their names start with run, this drill's own:
// an object never overwrites one of an earlier drill, whose stale replica a site cut off during
// the overwrite would go on serving (Swift is eventually consistent; the lab runs no replicator).
type acked struct {
	run  string
	mu   sync.Mutex
	objs []object
}

func newAcked() *acked { return &acked{run: fmt.Sprintf("%08x", mrand.Uint32())} }

func (a *acked) add(o object) { a.mu.Lock(); a.objs = append(a.objs, o); a.mu.Unlock() }

func (a *acked) pick() (object, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.objs) == 0 {
		return object{}, false
	}
	return a.objs[mrand.IntN(len(a.objs))], true
}

func (a *acked) all() []object {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]object(nil), a.objs...)
}

func swiftClient(ctx context.Context, rec *recorder, site string, k *Keystone, addr string, objs *acked, c Config) {
	var cl *swift.Client
	var tok string
	var got time.Time
	seq := 0
	for ctx.Err() == nil {
		if cl == nil || time.Since(got) > tokenEvery {
			if nc, nt, err := swift.Login(ctx, k, addr, c.User, c.Password); err == nil {
				cl, tok, got = nc, nt, time.Now()
			}
		}
		if cl != nil {
			seq++
			body := make([]byte, 1024+mrand.IntN(63*1024))
			rand.Read(body)
			name := fmt.Sprintf("%s-%s-%06d", objs.run, site, seq)
			err := cl.Put(ctx, tok, container, name, body)
			if ctx.Err() != nil {
				return
			}
			rec.add(Sample{Site: site, At: rec.since(), Op: "put", OK: err == nil, Err: errText(err)})
			if err == nil {
				objs.add(object{site: site, name: name, sum: swift.Sum(body)})
			}
			refused := swift.Refused(err)
			if o, ok := objs.pick(); ok {
				_, err := cl.Get(ctx, tok, container, o.name, o.sum)
				if ctx.Err() != nil {
					return
				}
				rec.add(Sample{Site: site, At: rec.since(), Op: "get", From: o.site, OK: err == nil, Err: errText(err)})
				refused = refused || swift.Refused(err)
			}
			if refused {
				cl = nil // the token was refused: a fresh one next round
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * c.Interval):
		}
	}
}

// swiftPrepare makes the drill's container through the first site's proxy.
func swiftPrepare(ctx context.Context, clients map[string]*Keystone, c Config, first string) error {
	return retry(ctx, 60*time.Second, func() error {
		cl, tok, err := swift.Login(ctx, clients[first], c.Swift[first], c.User, c.Password)
		if err != nil {
			return err
		}
		return cl.CreateContainer(ctx, tok, container)
	})
}

// swiftReadBack reads every acknowledged object at every site with a proxy. A read that fails is
// tried again for up to 90 s, a 404 too: a proxy that saw the other sites' servers fail during a
// cut leaves them out for a while (Swift's error_suppression_interval, 60 s by default) and then
// answers 404 for an object whose only local replica was missed. A body that does not match its
// MD5 counts at once.
func swiftReadBack(ctx context.Context, clients map[string]*Keystone, c Config, sites []string, objs []object) *SwiftResult {
	res := &SwiftResult{Acked: len(objs), ReadOK: map[string]int{}, Missing: map[string]int{}}
	for _, s := range sites {
		if c.Swift[s] == "" {
			continue
		}
		// A site gets three minutes in all: a dead proxy must not hold the drill for every object.
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		var cl *swift.Client
		var tok string
		tokErr := retry(sctx, 60*time.Second, func() (err error) {
			cl, tok, err = swift.Login(sctx, clients[s], c.Swift[s], c.User, c.Password)
			return err
		})
		for _, o := range objs {
			err := tokErr
			if err == nil {
				err = retry(sctx, 90*time.Second, func() error {
					_, err := cl.Get(sctx, tok, container, o.name, o.sum)
					if errors.Is(err, swift.ErrCorrupt) {
						return retryStop{err}
					}
					return err
				})
			}
			if err == nil {
				res.ReadOK[s]++
				continue
			}
			res.Missing[s]++
			if len(res.Errors) < 5 {
				res.Errors = append(res.Errors, fmt.Sprintf("at %s: %v", s, err))
			}
		}
		cancel()
	}
	return res
}
