/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The sluice authors
 */
#ifndef SL_CTLD_VIEWS_H
#define SL_CTLD_VIEWS_H

/**
 * @file
 * GET /v1/views, /v1/views/{name} (the rows of `sluicectl query --json`,
 * byte for byte: both write them with control/lib/query.c), and
 * /v1/views/{name}/live (sluiced's `live` reply); /v1/views/{name}/stream is
 * handed to sse.c. Threading: any pool thread; the store under its lock.
 */

#include <microhttpd.h>

#include "http.h"

/** GET /v1/views: the registered views, as `sluicectl views --json`. */
enum MHD_Result sl_ctld_views_list(struct sl_ctld *c, struct MHD_Connection *conn,
				   const char *rest);

/** GET /v1/views/@p rest: "NAME", "NAME/live" or "NAME/stream". */
enum MHD_Result sl_ctld_view_get(struct sl_ctld *c, struct MHD_Connection *conn,
				 const char *rest);

#endif /* SL_CTLD_VIEWS_H */
