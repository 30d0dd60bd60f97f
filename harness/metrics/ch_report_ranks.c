/* report.html's rank table (ch_report_ranks.h). The lines come from report.json, which may have been edited: every
   field is optional (a lost rank's line holds its rank and host only) and every string is escaped. */
#include "ch_report_ranks.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>

#include "ch_report_int.h"

/* A numeric cell: the field scaled, with the given decimals, or "-" when the line lacks it. */
static void rk_num(struct ch_buf *b, const cJSON *line, const char *key, double scale, int decimals) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, key);
  if (cJSON_IsNumber(v))
    ch_buf_printf(b, "<td class=\"n\">%.*f</td>", decimals, v->valuedouble * scale);
  else
    ch_buf_puts(b, "<td class=\"n\">-</td>");
}

int ch_report_ranks_html(const char *ranks_json, struct ch_buf *b) {
  cJSON *a = ranks_json ? cJSON_Parse(ranks_json) : NULL;
  if (!cJSON_IsArray(a)) {
    cJSON_Delete(a);
    return 0;
  }
  ch_buf_printf(b, "<section id=\"ranks\"><h2>MPI ranks: %d</h2><p>Rank 0 coordinates the run and runs a share of "
                   "the clients too. Clock offsets are each rank's monotonic clock minus rank 0's, estimated by "
                   "round trips over MPI at every phase; &#177; is the last estimate's uncertainty (half the best "
                   "round trip), the largest over the run beside it.</p><div class=\"scroll\"><table "
                   "id=\"ranks-table\"><tr><th>rank</th><th>host</th><th>pid</th><th>clients</th><th>CPU s</th>"
                   "<th>peak RSS MiB</th><th>clock offset us</th><th>&#177; us</th><th>largest &#177; us</th>"
                   "<th>state</th></tr>",
                cJSON_GetArraySize(a));
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(e, "host");
    bool lost = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "lost"));
    bool ckpt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "from_checkpoint"));
    ch_buf_printf(b, "<tr class=\"rank-row%s\">", lost ? " fail" : "");
    rk_num(b, e, "rank", 1, 0);
    ch_buf_puts(b, "<td>");
    ch__xml_escape(b, cJSON_IsString(host) ? host->valuestring : "-");
    ch_buf_puts(b, "</td>");
    rk_num(b, e, "pid", 1, 0);
    rk_num(b, e, "clients", 1, 0);
    rk_num(b, e, "cpu_s", 1, 2);
    rk_num(b, e, "max_rss_kib", 1.0 / 1024, 1);
    rk_num(b, e, "clock_offset_ns", 1e-3, 1);
    rk_num(b, e, "clock_uncertainty_ns", 1e-3, 1);
    rk_num(b, e, "clock_uncertainty_max_ns", 1e-3, 1);
    ch_buf_printf(b, "<td>%s</td></tr>", lost ? (ckpt ? "lost: its last checkpoint counted" : "lost: no report")
                                              : "reported");
  }
  ch_buf_puts(b, "</table></div></section>\n");
  cJSON_Delete(a);
  return b->data ? 0 : -ENOMEM;
}
