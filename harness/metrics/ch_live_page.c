/* The live dashboard: a self-contained page (no external assets, like report.html, whose style sheet and charts it
   reuses) that replaces its view with each Server-Sent Event, one a second; opened mid-run it shows the state of
   now at once. When the run ends it shows the final report in a frame. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ch_live.h"
#include "ch_metrics.h"
#include "ch_report_int.h"

static const char page_css[] =
    "header{display:flex;gap:12px;align-items:center;flex-wrap:wrap}#state.live{background:#1565c0}"
    "#state.ended{background:#455a64}#state.lost{background:#b26a00}button#stop{font:inherit;padding:6px 14px;"
    "border:1px solid #c62828;background:#fff;color:#c62828;border-radius:4px;cursor:pointer}"
    "button#stop:disabled{opacity:.5;cursor:default}.charts{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(440px,1fr));gap:0 16px}body{max-width:1500px}iframe#report{width:100%;height:80vh;border:1px solid #ddd}.so{color:#777}";

static const char page_js[] =
    "(function(){var n=0,ended=false,st=document.getElementById('state'),v=document.getElementById('view'),"
    "b=document.getElementById('stop'),es=new EventSource('events');"
    "function state(c,t){st.className='verdict '+c;st.textContent=t;}"
    "es.onmessage=function(e){v.innerHTML=e.data;n++;document.body.setAttribute('data-updates',n);"
    "if(!ended)state('live','LIVE');};"
    "es.addEventListener('end',function(e){ended=true;es.close();state('ended','RUN ENDED');"
    "var f=document.getElementById('report');f.srcdoc=e.data;document.getElementById('final').hidden=false;"
    "document.body.setAttribute('data-ended','1');if(b)b.disabled=true;});"
    "es.onerror=function(){if(!ended)state('lost','RECONNECTING');};"
    "if(b)b.onclick=function(){if(!confirm('Stop the run gracefully (as Ctrl-C does)?'))return;b.disabled=true;"
    "fetch('stop',{method:'POST'}).then(function(r){b.textContent=r.status==202?'Stopping...':'Refused ('+"
    "r.status+')';document.body.setAttribute('data-stop',r.status);});};})();";

int ch_live_page(struct ch_buf *b, const char *title, bool allow_stop) {
  ch_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; style-src "
                 "'unsafe-inline'; script-src 'unsafe-inline'\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>centro-harness live: ");
  ch__xml_escape(b, title);
  ch_buf_printf(b, "</title><style>%s%s</style></head><body>\n<header><h1>centro-harness live: ", ch__report_css(),
                page_css);
  ch__xml_escape(b, title);
  ch_buf_puts(b, "</h1><span id=\"state\" class=\"verdict lost\">CONNECTING</span>");
  if (allow_stop) /* only then: without --dashboard-allow-stop the server refuses POST /stop anyway */
    ch_buf_puts(b, "<button id=\"stop\" type=\"button\" title=\"stops gracefully, as Ctrl-C does\">Stop the run"
                   "</button>");
  ch_buf_printf(b, "</header>\n<main id=\"view\"><p class=\"so\">Waiting for the first second of figures...</p>"
                   "</main>\n<section id=\"final\" hidden><h2>Final report</h2><iframe id=\"report\" "
                   "title=\"final report\"></iframe></section>\n<script>%s</script></body></html>\n",
                page_js);
  return b->data && ch_buf_reserve(b, 0) == 0 ? 0 : -ENOMEM;
}

static void tile(struct ch_buf *b, const char *id, const char *k, const char *v) {
  ch_buf_printf(b, "<div class=\"tile\" id=\"%s\">", id);
  ch__xml_escape(b, k);
  ch_buf_puts(b, "<b>");
  ch__xml_escape(b, v);
  ch_buf_puts(b, "</b></div>");
}

/* What the checks will judge, as it stands: the run's checks are judged when it ends. */
static void checks_so_far(struct ch_buf *b, const struct ch_metrics_group *t) {
  static const struct {
    const char *id;
    enum ch_cnt cnt;
    const char *what;
  } rows[] = {{"RUN-CONNECT", CH_CNT_CONNECT_ERRORS, "clients that failed to connect"},
              {"RUN-SUBSCRIBE", CH_CNT_INVOKE_ERRORS, "invocations answered with an error or timed out"},
              {"RUN-DUPLICATE", CH_CNT_UPDATES_DUPLICATE, "Updates received twice"},
              {"RUN-ORDER", CH_CNT_UPDATES_OUT_OF_ORDER, "Updates out of order"},
              {"RUN-ISOLATION", CH_CNT_UPDATES_UNEXPECTED, "Updates for keys not subscribed"},
              {"RUN-SERVER-CLOSE", CH_CNT_SERVER_CLOSES, "receive channels the server ended"}};
  ch_buf_puts(b, "<section id=\"checks\"><h2>Checks so far</h2><p class=\"so\">Judged when the run ends; what they "
                 "will look at, as it stands:</p><table><tr><th>check</th><th>what</th><th>so far</th></tr>");
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    uint64_t n = t ? t->counters[rows[i].cnt] : 0;
    ch_buf_printf(b, "<tr class=\"%s\"><td>%s</td><td>%s</td><td class=\"n\">%llu</td></tr>", n ? "fail" : "",
                  rows[i].id, rows[i].what, (unsigned long long)n);
  }
  ch_buf_puts(b, "</table></section>");
}

static void thresholds_so_far(struct ch_buf *b, const struct ch_live_frame *f) {
  ch_buf_puts(b, "<section id=\"thresholds\"><h2>Thresholds</h2>");
  if (!f->n_thresholds) {
    ch_buf_puts(b, "<p class=\"so\">The scenario has none.</p></section>");
    return;
  }
  ch_buf_puts(b, "<table><tr><th>threshold</th><th>so far</th><th>observed</th></tr>");
  for (size_t i = 0; i < f->n_thresholds; i++) {
    const struct ch_live_threshold *t = &f->thresholds[i];
    const char *cls = t->state > 0 ? "pass" : t->state < 0 ? "fail" : "skip";
    ch_buf_printf(b, "<tr class=\"%s threshold-row\"><td>", cls);
    ch__xml_escape(b, t->expr);
    ch_buf_printf(b, "</td><td class=\"res-%s\">%s</td><td>", cls,
                  t->state > 0 ? "holds" : t->state < 0 ? "lost" : "no samples yet");
    ch__xml_escape(b, t->observed ? t->observed : "");
    ch_buf_puts(b, "</td></tr>");
  }
  ch_buf_puts(b, "</table></section>");
}

int ch_live_view(struct ch_buf *b, const struct ch_live_frame *f, const struct ch_metrics_group *t) {
  const struct ch_metrics *m = f->m;
  char v[160], x[48], y[48];
  ch_buf_puts(b, "<div class=\"tiles\">");
  snprintf(v, sizeof v, "%s%s%s", f->run.phase ? f->run.phase : f->run.running ? "starting" : "ended",
           f->label ? " \xc2\xb7 " : "", f->label ? f->label : "");
  tile(b, "t-phase", "phase", v);
  ch__fmt_dur(x, sizeof x, f->run.elapsed_s * 1e9);
  ch__fmt_dur(y, sizeof y, f->run.expected_s * 1e9);
  snprintf(v, sizeof v, "%s / ~%s", x, y);
  tile(b, "t-elapsed", "elapsed / expected", v);
  snprintf(v, sizeof v, "%lld / %llu", t ? (long long)(t->connected > 0 ? t->connected : 0) : 0LL,
           (unsigned long long)f->run.target_clients);
  tile(b, "t-connected", "connected", v);
  if (t && (t->reconnecting || t->counters[CH_CNT_RECONNECTS] || t->counters[CH_CNT_DISCONNECTS])) {
    snprintf(v, sizeof v, "%lld / %llu", (long long)t->reconnecting,
             (unsigned long long)t->counters[CH_CNT_RECONNECTS]); /* a drop's recovery, as it goes */
    tile(b, "t-reconnecting", "reconnecting now / reconnects", v);
  }
  if (f->run.n_sessions) { /* session populations: the gauges sessions_active and sessions_target, summed */
    uint64_t active, target;
    bool closed = ch_prom_sessions_sum(&f->run, &active, &target);
    if (closed)
      snprintf(v, sizeof v, "%llu / %llu", (unsigned long long)active, (unsigned long long)target);
    else
      snprintf(v, sizeof v, "%llu", (unsigned long long)active);
    tile(b, "t-sessions", closed ? "sessions active / target" : "sessions active", v);
  }
  const struct ch_series_point *p = m && m->n_series ? &m->series[m->n_series - 1] : NULL;
  ch__fmt_count(v, sizeof v, p ? (double)p->messages_in : 0);
  tile(b, "t-msgs", "messages in/s (last second)", v);
  if (p && p->deliveries) {
    ch__fmt_dur(x, sizeof x, (double)p->p50_ns);
    ch__fmt_dur(y, sizeof y, (double)p->p99_ns);
    snprintf(v, sizeof v, "%s / %s", x, y);
  } else {
    snprintf(v, sizeof v, "-");
  }
  tile(b, "t-delivery", "delivery p50 / p99 (last second)", v);
  snprintf(v, sizeof v, "%llu / %llu", t ? (unsigned long long)t->lat[CH_LAT_UPDATE].count : 0ULL,
           (unsigned long long)f->run.triggers_sent); /* the counter is judged at the end; samples come live */
  tile(b, "t-updates", "Updates received / triggers sent", v);
  snprintf(v, sizeof v, "%llu", t ? (unsigned long long)t->counters[CH_CNT_ERRORS] : 0ULL);
  tile(b, "t-errors", "errors", v);
  ch_buf_puts(b, "</div><section id=\"charts\"><div class=\"charts\">");
  int rc = 0;
  if (m && t)
    rc = ch__report_charts(b, m, t);
  else
    ch_buf_puts(b, "<p class=\"so\">Nothing measured yet.</p>");
  ch_buf_puts(b, "</div></section>");
  thresholds_so_far(b, f);
  checks_so_far(b, t);
  return rc ? rc : b->data && ch_buf_reserve(b, 0) == 0 ? 0 : -ENOMEM;
}
