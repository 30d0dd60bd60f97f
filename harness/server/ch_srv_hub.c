/* Hub method dispatch for ResourceEventHub and JobEventHub: subscribe/unsubscribe as groups, hub responses shaped
   like HubResponse (I always a string, E with the generic "detailed errors off" text). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ch_srv.h"

static bool key_allowed(const char *const *list, size_t n, const char *key) {
  if (!list)
    return true;
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], key) == 0)
      return true;
  return false;
}

/* The id as JSON: a string (real servers), or the bare number under the invoke-numeric-id fault. */
static int put_id(struct ch_server *s, struct ch_buf *out, const char *id) {
  if (ch_srv_fault(s, CH_FAULT_INVOKE_NUMERIC_ID)) {
    char *end;
    strtod(id, &end);
    if (*id && !*end)
      return ch_buf_puts(out, id);
  }
  return ch_srv_json_str(out, id, strlen(id));
}

int ch_srv_invoke(struct ch_server *s, struct ch_srv_conn *c, const struct ch_server_token *tok, const char *json,
                  size_t len, struct ch_buf *out) {
  cJSON *inv = cJSON_ParseWithLength(json, len);
  int rc = -EINVAL;
  if (!cJSON_IsObject(inv))
    goto done;
  const cJSON *H = cJSON_GetObjectItem(inv, "H"), *M = cJSON_GetObjectItem(inv, "M");
  const cJSON *A = cJSON_GetObjectItem(inv, "A"), *I = cJSON_GetObjectItem(inv, "I");
  if (!cJSON_IsString(H) || !cJSON_IsString(M) || (A && !cJSON_IsArray(A) && !cJSON_IsNull(A)))
    goto done;
  char id[64];
  if (cJSON_IsString(I))
    snprintf(id, sizeof id, "%s", I->valuestring);
  else if (cJSON_IsNumber(I) && isfinite(I->valuedouble) && I->valuedouble == floor(I->valuedouble) &&
           fabs(I->valuedouble) < 1e15)
    snprintf(id, sizeof id, "%.0f", I->valuedouble);
  else
    goto done;
  unsigned hub = ch_srv_hub_lookup(H->valuestring, strlen(H->valuestring));
  if (!hub)
    goto done; /* unknown hub in H: thrown before a response exists */
  rc = 0;
  s->st.invocations++;
  int argc = A && cJSON_IsArray(A) ? cJSON_GetArraySize(A) : 0;
  const cJSON *arg = argc == 1 ? cJSON_GetArrayItem(A, 0) : NULL;
  const char *m = M->valuestring;
  bool sub = false, unsub = false;
  if (hub == CH_HUB_RESOURCE) {
    sub = strcasecmp(m, "SubscribeToPart") == 0;
    unsub = strcasecmp(m, "UnsubscribeFromPart") == 0;
  } else {
    sub = strcasecmp(m, "SubscribeToPipeline") == 0;
    unsub = strcasecmp(m, "UnsubscribeFromPipeline") == 0;
  }
  char keybuf[64];
  const char *key = NULL;
  if (cJSON_IsString(arg))
    key = arg->valuestring;
  else if (cJSON_IsNumber(arg)) { /* Newtonsoft converts a number argument to the string parameter */
    snprintf(keybuf, sizeof keybuf, "%.17g", arg->valuedouble);
    key = keybuf;
  }
  bool ok = (sub || unsub) && key;
  if (ok && !tok && s->n_tokens)
    ok = false; /* the anonymous user of a request without connectionData (§6): every hub needs a user */
  if (ok && tok && tok->hubs && !(tok->hubs & hub))
    ok = false; /* hub-level [Authorize] also applies to every invocation */
  if (ok && sub && tok) {
    if (hub == CH_HUB_RESOURCE)
      ok = key_allowed(tok->parts, tok->n_parts, key);
    else
      ok = key_allowed(tok->pipelines, tok->n_pipelines, key);
  }
  if (ok) {
    int changed = 0;
    if (sub) {
      size_t before = c->n_groups;
      if (ch_srv_conn_join(s, c, hub, key))
        ok = false;
      changed = c->n_groups != before;
    } else if (!ch_srv_fault(s, CH_FAULT_IGNORE_UNSUBSCRIBE)) {
      changed = ch_srv_conn_leave(s, c, hub, key);
    }
    if (changed && ch_srv_conn_groups_token(s, c) == 0)
      ch_srv_conn_kick(s, c); /* the new G goes out on the receive channel */
  }
  ch_buf_puts(out, "{\"I\":");
  put_id(s, out, id);
  if (!ok) {
    /* what a 2.4 server with detailed errors off answers for a missing method, a refused call or an exception */
    struct ch_buf e = CH_BUF_INIT;
    ch_buf_printf(&e, "There was an error invoking Hub method '%s.%s'.", H->valuestring, m);
    ch_buf_puts(out, ",\"E\":");
    ch_srv_json_str(out, e.data, e.len);
    ch_buf_free(&e);
  }
  ch_buf_putc(out, '}');
done:
  cJSON_Delete(inv);
  return rc;
}

/* Shaped like the proxy DefaultJavaScriptProxyGenerator emits for the two hubs. */
static const char proxy_js[] =
    "/*!\n"
    " * ASP.NET SignalR JavaScript Library 2.4.3\n"
    " * http://signalr.net/\n"
    " */\n"
    "\n"
    "/// <reference path=\"..\\..\\SignalR.Client.JS\\Scripts\\jquery-1.6.4.js\" />\n"
    "/// <reference path=\"jquery.signalR.js\" />\n"
    "(function ($, window, undefined) {\n"
    "    /// <param name=\"$\" type=\"jQuery\" />\n"
    "    \"use strict\";\n"
    "\n"
    "    if (typeof ($.signalR) !== \"function\") {\n"
    "        throw new Error(\"SignalR: SignalR is not loaded. Please ensure jquery.signalR-x.js is referenced before "
    "~/signalr/js.\");\n"
    "    }\n"
    "\n"
    "    var signalR = $.signalR;\n"
    "\n"
    "    function makeProxyCallback(hub, callback) {\n"
    "        return function () {\n"
    "            // Call the client hub method\n"
    "            callback.apply(hub, $.makeArray(arguments));\n"
    "        };\n"
    "    }\n"
    "\n"
    "    function registerHubProxies(instance, shouldSubscribe) {\n"
    "        var key, hub, memberKey, memberValue, subscriptionMethod;\n"
    "\n"
    "        for (key in instance) {\n"
    "            if (instance.hasOwnProperty(key)) {\n"
    "                hub = instance[key];\n"
    "\n"
    "                if (!(hub.hubName)) {\n"
    "                    // Not a client hub\n"
    "                    continue;\n"
    "                }\n"
    "\n"
    "                if (shouldSubscribe) {\n"
    "                    // We want to subscribe to the hub events\n"
    "                    subscriptionMethod = hub.on;\n"
    "                } else {\n"
    "                    // We want to unsubscribe from the hub events\n"
    "                    subscriptionMethod = hub.off;\n"
    "                }\n"
    "\n"
    "                // Loop through all members on the hub and find client hub functions to subscribe/unsubscribe\n"
    "                for (memberKey in hub.client) {\n"
    "                    if (hub.client.hasOwnProperty(memberKey)) {\n"
    "                        memberValue = hub.client[memberKey];\n"
    "\n"
    "                        if (!$.isFunction(memberValue)) {\n"
    "                            // Not a client hub function\n"
    "                            continue;\n"
    "                        }\n"
    "\n"
    "                        // Use the actual user-provided callback as the \"identity\" value for the "
    "registration.\n"
    "                        subscriptionMethod.call(hub, memberKey, makeProxyCallback(hub, memberValue), "
    "memberValue);\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "\n"
    "    $.hubConnection.prototype.createHubProxies = function () {\n"
    "        var proxies = {};\n"
    "        this.starting(function () {\n"
    "            // Register the hub proxies as subscribed\n"
    "            // (instance, shouldSubscribe)\n"
    "            registerHubProxies(proxies, true);\n"
    "\n"
    "            this._registerSubscribedHubs();\n"
    "        }).disconnected(function () {\n"
    "            // Unsubscribe all hub proxies when we \"disconnect\".  This is to ensure that we do not re-add "
    "functional call backs.\n"
    "            // (instance, shouldSubscribe)\n"
    "            registerHubProxies(proxies, false);\n"
    "        });\n"
    "\n"
    "        proxies['jobEventHub'] = this.createHubProxy('jobEventHub');\n"
    "        proxies['jobEventHub'].client = { };\n"
    "        proxies['jobEventHub'].server = {\n"
    "            subscribeToPipeline: function (pipeId) {\n"
    "                return proxies['jobEventHub'].invoke.apply(proxies['jobEventHub'], "
    "$.merge([\"SubscribeToPipeline\"], $.makeArray(arguments)));\n"
    "             },\n"
    "\n"
    "            unsubscribeFromPipeline: function (pipeId) {\n"
    "                return proxies['jobEventHub'].invoke.apply(proxies['jobEventHub'], "
    "$.merge([\"UnsubscribeFromPipeline\"], $.makeArray(arguments)));\n"
    "             }\n"
    "        };\n"
    "\n"
    "        proxies['resourceEventHub'] = this.createHubProxy('resourceEventHub');\n"
    "        proxies['resourceEventHub'].client = { };\n"
    "        proxies['resourceEventHub'].server = {\n"
    "            subscribeToPart: function (partKey) {\n"
    "                return proxies['resourceEventHub'].invoke.apply(proxies['resourceEventHub'], "
    "$.merge([\"SubscribeToPart\"], $.makeArray(arguments)));\n"
    "             },\n"
    "\n"
    "            unsubscribeFromPart: function (partKey) {\n"
    "                return proxies['resourceEventHub'].invoke.apply(proxies['resourceEventHub'], "
    "$.merge([\"UnsubscribeFromPart\"], $.makeArray(arguments)));\n"
    "             }\n"
    "        };\n"
    "\n"
    "        return proxies;\n"
    "    };\n"
    "\n"
    "    signalR.hub = $.hubConnection(\"/signalr\", { useDefaultPath: false });\n"
    "    $.extend(signalR, signalR.hub.createHubProxies());\n"
    "\n"
    "}(window.jQuery, window));\n";

const char *ch_srv_proxy_js(void) { return proxy_js; }
