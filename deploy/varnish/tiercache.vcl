vcl 4.1;
# Varnish in front of a tiercache service, purged by `tiercache cdn-purger` (provider "varnish").
#
# - Responses are cached by the origin's Cache-Control: s-maxage (else max-age) is the TTL,
#   stale-while-revalidate the grace (Varnish reads both itself); private, no-store and no-cache
#   responses and Set-Cookie are not cached (Varnish's built-in rules, kept by falling through).
# - Surrogate-Key (space-separated keys, as tiercache's edge and the catalog emit them) becomes
#   the xkey index, so one request purges every object carrying a key.
# - Purge requests (method PURGE) are accepted only from the `purgers` ACL:
#     PURGE /            + xkey-purge: k1 k2       hard purge by surrogate key (xkey.purge)
#     PURGE /            + xkey-softpurge: k1 k2   soft purge: stale, kept for grace (xkey.softpurge)
#     PURGE /path                                  hard purge of one URL (every variant)
#     PURGE /path        + tc-soft: 1              soft purge of one URL (purge.soft)
#     PURGE /            + tc-ban-url: REGEX       ban the URLs of this Host matching REGEX (prefixes)
#     PURGE /            + tc-ban-all: 1           ban everything
#   Answers 200 with `tc-purged: N` (objects purged; bans report 0: they apply lazily).
#
# Change the backend and the ACL to your addresses.
import std;
import xkey;
import purge;

backend default {
  .host = "127.0.0.1";
  .port = "8080";
}

acl purgers {
  "127.0.0.1";
  "::1";
}

sub vcl_recv {
  if (req.method == "PURGE") {
    if (client.ip !~ purgers) {
      return (synth(403, "Forbidden"));
    }
    if (req.http.xkey-purge) {
      set req.http.tc-purged = xkey.purge(req.http.xkey-purge);
      return (synth(200, "Purged"));
    }
    if (req.http.xkey-softpurge) {
      set req.http.tc-purged = xkey.softpurge(req.http.xkey-softpurge);
      return (synth(200, "Purged"));
    }
    if (req.http.tc-ban-all) {
      if (!std.ban("obj.status != 0")) {
        return (synth(400, std.ban_error()));
      }
      set req.http.tc-purged = "0";
      return (synth(200, "Banned"));
    }
    if (req.http.tc-ban-url) {
      if (!std.ban("obj.http.tc-host == " + req.http.host + " && obj.http.tc-url ~ " + req.http.tc-ban-url)) {
        return (synth(400, std.ban_error()));
      }
      set req.http.tc-purged = "0";
      return (synth(200, "Banned"));
    }
    # One URL: look the object up, then purge it in vcl_hit / vcl_miss (every Vary variant).
    return (hash);
  }
}

sub vcl_hit {
  if (req.method == "PURGE") {
    if (req.http.tc-soft) {
      set req.http.tc-purged = purge.soft();
    } else {
      set req.http.tc-purged = purge.hard();
    }
    return (synth(200, "Purged"));
  }
}

sub vcl_miss {
  if (req.method == "PURGE") {
    if (req.http.tc-soft) {
      set req.http.tc-purged = purge.soft();
    } else {
      set req.http.tc-purged = purge.hard();
    }
    return (synth(200, "Purged"));
  }
}

sub vcl_backend_response {
  # xkey indexes the `xkey` header; ours is Surrogate-Key (the same space-separated list).
  if (beresp.http.Surrogate-Key) {
    set beresp.http.xkey = beresp.http.Surrogate-Key;
  }
  # Kept on the object so that bans can match URLs without the request (the ban lurker can run them).
  set beresp.http.tc-url = bereq.url;
  set beresp.http.tc-host = bereq.http.host;
}

sub vcl_deliver {
  # Internal bookkeeping stays inside the CDN; Surrogate-Key is for caches, not for browsers.
  unset resp.http.xkey;
  unset resp.http.tc-url;
  unset resp.http.tc-host;
  unset resp.http.Surrogate-Key;
}

sub vcl_synth {
  if (req.method == "PURGE") {
    set resp.http.tc-purged = req.http.tc-purged;
  }
}
