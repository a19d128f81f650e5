// Package harness is what the Go switchover clients share with the python and Java ones: JSON
// lines on stdout (one object per event, written whole and flushed), commands on stdin, and
// librdkafka-style "-X key=value" settings, so that test/support/switchover drives every
// long-running client the same way.
package harness

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

var out = struct {
	sync.Mutex
	w *bufio.Writer
}{w: bufio.NewWriter(os.Stdout)}

// Emit writes one JSON object as a line on stdout.
func Emit(event map[string]any) {
	line, err := json.Marshal(event)
	if err != nil {
		line, _ = json.Marshal(map[string]any{"emitError": err.Error()})
	}
	out.Lock()
	defer out.Unlock()
	out.w.Write(line)
	out.w.WriteByte('\n')
	out.w.Flush()
}

// NowMs is the wall clock in milliseconds since the epoch (what the harness compares across processes).
func NowMs() int64 { return time.Now().UnixMilli() }

// Settings are the -X key=value pairs; every key must be taken by the program, or it stops with
// a usage error (a misspelt setting must not silently test the defaults instead).
type Settings struct {
	values map[string]string
	taken  map[string]bool
}

func (s *Settings) String() string { return fmt.Sprint(s.values) }

// Set implements flag.Value for a repeated -X.
func (s *Settings) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("-X %s: expected key=value", kv)
	}
	if s.values == nil {
		s.values, s.taken = map[string]string{}, map[string]bool{}
	}
	s.values[k] = v
	return nil
}

// Take returns the value of key ("" when absent) and marks it used.
func (s *Settings) Take(key string) string {
	if s.taken != nil {
		s.taken[key] = true
	}
	return s.values[key]
}

// Bool is Take as a boolean ("true"/"false"; absent is def).
func (s *Settings) Bool(key string, def bool) bool {
	switch s.Take(key) {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	default:
		Usage(fmt.Sprintf("-X %s=%s: expected true or false", key, s.values[key]))
		return def
	}
}

// CheckAllTaken stops the program when a -X key was not used.
func (s *Settings) CheckAllTaken() {
	var unknown []string
	for k := range s.values {
		if !s.taken[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		Usage(fmt.Sprintf("unknown -X setting(s) for this client: %s", strings.Join(unknown, ", ")))
	}
}

// SASL is the SASL/PLAIN login from librdkafka's keys (security.protocol=SASL_PLAINTEXT,
// sasl.mechanisms=PLAIN, sasl.username, sasl.password); nil for PLAINTEXT.
type SASL struct{ User, Password string }

func (s *Settings) SASL() *SASL {
	protocol := s.Take("security.protocol")
	mechanism := s.Take("sasl.mechanisms")
	user, password := s.Take("sasl.username"), s.Take("sasl.password")
	switch protocol {
	case "", "PLAINTEXT":
		return nil
	case "SASL_PLAINTEXT":
		if mechanism != "PLAIN" {
			Usage("only sasl.mechanisms=PLAIN is supported")
		}
		return &SASL{User: user, Password: password}
	default:
		Usage("security.protocol must be PLAINTEXT or SASL_PLAINTEXT")
		return nil
	}
}

// Args are the flags of a long-running switchover client (the same as rdkafka_switch_client.py's).
type Args struct {
	Bootstrap  []string
	Topic      string
	Group      string
	IntervalMs int
	X          Settings
}

// ParseSwitchArgs parses --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...].
func ParseSwitchArgs(about string) *Args {
	a := &Args{}
	var bootstrap string
	flag.StringVar(&bootstrap, "bootstrap", "", "bootstrap servers (host:port,...)")
	flag.StringVar(&a.Topic, "topic", "", "topic to produce to and consume from")
	flag.StringVar(&a.Group, "group", "", "consumer group")
	flag.IntVar(&a.IntervalMs, "interval-ms", 50, "milliseconds between records")
	flag.Var(&a.X, "X", "client setting key=value (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, about)
		flag.PrintDefaults()
	}
	flag.Parse()
	if bootstrap == "" || a.Topic == "" || a.Group == "" {
		Usage("--bootstrap, --topic and --group are required")
	}
	a.Bootstrap = strings.Split(bootstrap, ",")
	return a
}

// Usage prints the problem and exits 2.
func Usage(problem string) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", os.Args[0], problem)
	os.Exit(2)
}

// Commands are the stdin commands of a long-running client: "stop-producing", "stop" (or the
// end of input), and any other line, passed on as it is.
type Commands struct {
	StopProducing <-chan struct{}
	Stop          <-chan struct{}
	Other         <-chan string
}

// ReadCommands reads stdin in the background.
func ReadCommands() Commands {
	stopProducing, stop, other := make(chan struct{}), make(chan struct{}), make(chan string, 16)
	go func() {
		var once sync.Once
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			switch cmd := strings.TrimSpace(in.Text()); cmd {
			case "stop":
				once.Do(func() { close(stopProducing) })
				close(stop)
				return
			case "stop-producing":
				once.Do(func() { close(stopProducing) })
			case "":
			default:
				other <- cmd
			}
		}
		once.Do(func() { close(stopProducing) })
		close(stop)
	}()
	return Commands{StopProducing: stopProducing, Stop: stop, Other: other}
}

// ReportUnknown answers every other command with {"commandError":"unknown command: ..."}, in the background.
func (c Commands) ReportUnknown() {
	go func() {
		for cmd := range c.Other {
			Emit(map[string]any{"commandError": "unknown command: " + cmd})
		}
	}()
}

// Produce is a switch client's producer from its first record to "stop": send(seq) for seq 0, 1,
// ... every interval until "stop-producing" (or "stop"); send returns false when producing stopped
// while it waited to hand the record over (that record does not count as sent). Then flush waits
// for the records in flight and returns how many got no answer; unless "stop" came already,
// {"producerStopped":true,"sent","unflushed"} says the producer stopped, and Produce waits for
// "stop" (the consumer keeps consuming meanwhile).
func (c Commands) Produce(interval time.Duration, send func(seq int) bool, flush func() (unflushed int64)) (sent int, unflushed int64) {
produce:
	for {
		select {
		case <-c.StopProducing:
			break produce
		default:
		}
		if !send(sent) {
			break
		}
		sent++
		if !Sleep(interval, c.StopProducing) {
			break
		}
	}
	unflushed = flush()
	select {
	case <-c.Stop:
	default:
		Emit(map[string]any{"producerStopped": true, "sent": sent, "unflushed": unflushed, "at": NowMs()})
		<-c.Stop
	}
	return sent, unflushed
}

// SortedPartitions lists the partitions of a topic -> partitions map in order (a group member's
// assignment, for {"assigned":[...]} and the like).
func SortedPartitions(m map[string][]int32) []int32 {
	var out []int32
	for _, ps := range m {
		out = append(out, ps...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Sleep waits d or until done is closed; false when done was closed.
func Sleep(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
