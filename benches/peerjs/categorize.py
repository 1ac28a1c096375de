# Shares of a folded perf profile (profile-relay.sh) by what the server is doing: each
# sample counts once, under the first category its stack contains.
#   python3 categorize.py /path/to/perf.data.folded
import sys,collections
tot=0; cat=collections.Counter()
rules=[
("writing responses and SSE frames (writev, the kernel TCP send)",['writev','sendmsg','send_to']),
("reading requests (read, epoll)",['recvfrom','readv','ksys_read','epoll_wait','sys_read']),
("task wake-ups and scheduling (futex, park, context switches)",['futex','park_timeout','Parker','finish_task_switch','schedule_hrtimeout']),
("JSON body into request types (serde_json)",['parse_body']),
("checks: ICE candidates, HS256 token, rate",['Validate','validate','verify_claims','check_rate','::admit']),
("the core and the log (call.ice decided, serialised, logged, framed, queued)",['pqcall::engine::local','pqcall::state::AppState>::decide','MemoryLog','carry_out']),
("hyper: parsing requests, building responses",['hyper::proto']),
]
other=collections.Counter(); o=0
for line in open(sys.argv[1]):
    stack,n=line.rsplit(' ',1); n=int(n); tot+=n
    for name,keys in rules:
        if any(k in stack for k in keys):
            cat[name]+=n; break
    else:
        o+=n; other[stack.split(';')[-1][:80]]+=n
for k,v in cat.most_common(): print(f"{100*v/tot:5.1f}% {k}")
print(f"{100*o/tot:5.1f}% other")
for k,v in other.most_common(8): print(f"   {100*v/tot:4.1f}% {k}")
