#!/usr/bin/env python3
"""Single-client etcd write latency: N puts of a VSIZE-byte value through
etcd's HTTP/JSON gateway (/v3/kv/put) on one keep-alive connection, one at a
time; prints the median in ms. Usage: etcd_put_latency.py HOST:PORT N VSIZE"""
import base64
import http.client
import json
import statistics
import sys
import time

host, port = sys.argv[1].split(":")
n, vsize = int(sys.argv[2]), int(sys.argv[3])
conn = http.client.HTTPConnection(host, int(port))
value = base64.b64encode(b"v" * vsize).decode()
samples = []
for i in range(n):
    body = json.dumps({"key": base64.b64encode(b"lat:%d" % i).decode(), "value": value})
    t0 = time.perf_counter()
    conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    samples.append((time.perf_counter() - t0) * 1000)
    if resp.status != 200:
        sys.exit("put failed: %d %s" % (resp.status, data[:200]))
print("%.3f" % statistics.median(samples))
