/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Internal logging shorthands for libtapflow and the CLI. */
#ifndef TF_LOG_H
#define TF_LOG_H

#include "tapflow.h"

#define pr_warn(...)	tf_log(TF_LOG_WARN, __VA_ARGS__)
#define pr_info(...)	tf_log(TF_LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	tf_log(TF_LOG_DEBUG, __VA_ARGS__)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
