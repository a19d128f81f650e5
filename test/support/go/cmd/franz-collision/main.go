// franz-collision: issue 13's producer-id collision, as a program. Two franz-go producers with
// franz-go's defaults (idempotent) write to the SAME partition through the gateway: producer A
// connected (and got its producer id) before a route switch, producer B connects after it. A
// keeps the id the old cluster gave it; when the new cluster's allocator hands B the same id,
// the broker takes B's batches for retries of A's (same producer id, epoch and sequence) and
// acknowledges them without writing them. The test reads the partition afterwards and checks
// that every acknowledged record is there.
//
//	franz-collision --bootstrap GATEWAY --topic T [--partition P] [--records N]
//	                [--align-blue HOST:PORT --align-green HOST:PORT] [-X key=value ...]
//
// --align-*: the two clusters' own (direct, PLAINTEXT) bootstraps. Producer ids come from each
// cluster's allocator, so whether A's and B's ids meet depends on how many ids each cluster
// handed out before. With these flags the program makes them meet, as they do on two fresh
// clusters: before A it takes ids from blue until blue is ahead of green, and after the switch
// it takes ids from green until green's next id is A's. (InitProducerId without a transactional
// id only hands out an id; nothing is written.) When A's id is not one green's allocator can
// reach (a gateway that hands out ids of its own), it says so ("applicable": false) and goes on.
//
// stdout, JSON lines:
//
//	{"aligned":{"blue":id,"green":id,"taken":n}}                  before A
//	{"producer":"A","producerId","producerEpoch","at"}            A initialised (before the switch)
//	{"ready":true}                                                 waiting for "switched" on stdin
//	{"alignedAfterSwitch":{"green":id,"producerA":id,"taken":n,"applicable":bool,"met":bool}}   green's last id before B
//	{"producer":"B",...} and {"producer":"A",...,"afterSwitch":true}
//	{"ack":"a-3","producer":"A","partition","offset","at"} / {"sendError":"a-3","producer":"A","error","at"}
//	{"done":true,"acked":{"A":n,"B":n}}
//
// Records alternate A, B, A, B, ... one at a time (each waits for its acknowledgement), values
// "a-<i>" and "b-<i>", so each producer's i-th record is a batch of one with sequence i.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"turnout.test/clients/internal/harness"
)

const (
	about = "franz-collision --bootstrap GATEWAY --topic T [--partition P] [--records N] [--align-blue H:P --align-green H:P] [-X key=value ...]"
	// How far blue's allocator is put ahead of green's before A: room for ids green hands to
	// other producers during the switch.
	alignMargin = 20
	// The most ids taken from green to reach A's id.
	maxTake = 100_000
)

func logger(role string) kgo.Logger {
	return kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string {
		return time.Now().Format("15:04:05.000") + " franz-" + role + " "
	})
}

// allocator asks one cluster, directly, for producer ids.
type allocator struct{ cl *kgo.Client }

func newAllocator(bootstrap string) *allocator {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.WithLogger(logger("allocator")))
	if err != nil {
		harness.Usage(err.Error())
	}
	return &allocator{cl}
}

func (a *allocator) next(ctx context.Context) int64 {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = math.MaxInt32
	resp, err := req.RequestWith(ctx, a.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		harness.Emit(map[string]any{"fatal": "InitProducerId: " + err.Error(), "at": harness.NowMs()})
		os.Exit(1)
	}
	return resp.ProducerID
}

func main() {
	var bootstrap, topic, alignBlue, alignGreen string
	var partition, records int
	var x harness.Settings
	flag.StringVar(&bootstrap, "bootstrap", "", "the gateway route's bootstrap")
	flag.StringVar(&topic, "topic", "", "topic")
	flag.IntVar(&partition, "partition", 0, "the partition both producers write")
	flag.IntVar(&records, "records", 50, "records per producer")
	flag.StringVar(&alignBlue, "align-blue", "", "blue's own bootstrap (PLAINTEXT)")
	flag.StringVar(&alignGreen, "align-green", "", "green's own bootstrap (PLAINTEXT)")
	flag.Var(&x, "X", "client setting key=value (repeatable)")
	flag.Parse()
	if bootstrap == "" || topic == "" || (alignBlue == "") != (alignGreen == "") {
		harness.Usage("--bootstrap and --topic are required, --align-blue and --align-green go together; " + about)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	if s := x.SASL(); s != nil {
		opts = append(opts, kgo.SASL(plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()))
	}
	x.CheckAllTaken()
	cmd := harness.ReadCommands()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var blue, green *allocator
	if alignBlue != "" {
		blue, green = newAllocator(alignBlue), newAllocator(alignGreen)
		b, g, taken := blue.next(ctx), green.next(ctx), 2
		for ; b < g+alignMargin; taken++ {
			b = blue.next(ctx)
		}
		harness.Emit(map[string]any{"aligned": map[string]any{"blue": b, "green": g, "taken": taken}})
	}

	producer := func(name string) (*kgo.Client, int64) {
		cl, err := kgo.NewClient(append(opts, kgo.ClientID("turnout-collision-"+strings.ToLower(name)), kgo.WithLogger(logger(name)))...)
		if err != nil {
			harness.Usage(err.Error())
		}
		id, epoch, err := cl.ProducerID(ctx)
		if err != nil {
			harness.Emit(map[string]any{"fatal": fmt.Sprintf("producer %s: %v", name, err), "at": harness.NowMs()})
			os.Exit(1)
		}
		harness.Emit(map[string]any{"producer": name, "producerId": id, "producerEpoch": epoch, "at": harness.NowMs()})
		return cl, id
	}
	a, aID := producer("A")
	harness.Emit(map[string]any{"ready": true})
	select {
	case c := <-cmd.Other:
		if c != "switched" {
			harness.Usage("expected \"switched\" on stdin, got " + strconv.Quote(c))
		}
	case <-cmd.Stop:
		a.Close()
		harness.Emit(map[string]any{"done": true, "stopped": "before the switch"})
		return
	}

	if green != nil {
		// A's id is within reach of green's allocator only if the gateway passed blue's id on
		// as it was; an id the gateway made up itself (far above any broker's counter) is not.
		g, taken := green.next(ctx), 1
		applicable := aID-1 >= g && aID-1-g <= maxTake
		for applicable && g < aID-1 {
			g = green.next(ctx)
			taken++
		}
		harness.Emit(map[string]any{"alignedAfterSwitch": map[string]any{"green": g, "producerA": aID, "taken": taken, "applicable": aID-1-g <= maxTake, "met": g == aID-1}})
		blue.cl.Close()
		green.cl.Close()
	}
	b, _ := producer("B")
	if id, epoch, err := a.ProducerID(ctx); err == nil {
		harness.Emit(map[string]any{"producer": "A", "producerId": id, "producerEpoch": epoch, "afterSwitch": true, "at": harness.NowMs()})
	}

	acked := map[string]int{"A": 0, "B": 0}
	send := func(name string, cl *kgo.Client, value string) {
		r := &kgo.Record{Topic: topic, Partition: int32(partition), Value: []byte(value)}
		res := cl.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			harness.Emit(map[string]any{"sendError": value, "producer": name, "error": err.Error(), "at": harness.NowMs()})
			return
		}
		acked[name]++
		harness.Emit(map[string]any{"ack": value, "producer": name, "partition": r.Partition, "offset": r.Offset, "at": harness.NowMs()})
	}
	for i := 0; i < records; i++ {
		send("A", a, "a-"+strconv.Itoa(i))
		send("B", b, "b-"+strconv.Itoa(i))
	}
	a.Close()
	b.Close()
	harness.Emit(map[string]any{"done": true, "acked": acked})
}
