# Reference values for the cluster-robust RMST (tests/test_robust_r.py).
#
# Run from the repository root after robust_km.R (it reads the KM data sets):
#   Rscript tests/r/robust_rmst.R   (or: make r-references)
# Needs R with the survival package (Debian: apt-get install -y r-base-core r-cran-survival).
# Generated with R 4.2.2, survival 3.5.3.
#
# Two R outputs per data set and tau, written to tests/data/r/rmst_reference.csv:
# * rmean, se_cluster: the RMST integral of the KM curve and the cluster-robust SE from R's IJ
#   residuals, survfit(Surv(entry, time, status) ~ 1, weights=, cluster=, influence=TRUE)
#   $influence.surv (one row per cluster, weight included), integrated to tau over the step
#   function: se = sqrt(sum((influence %*% widths)^2)).
# * rmean_ms, se_ms: R's own print(survfit(...), rmean=tau) for the multi-state form of the
#   same fit (Surv(entry, time, factor(status)), id = row, influence=TRUE): "rmean" and
#   "se(rmean)" of state (s0), the IJ SE with each row its own cluster.  Written only for the
#   unweighted data sets: with case weights survmean2 (survival 3.5.3) integrates the
#   multi-state influence without the weight, while the fit's own std.err includes it, so its
#   se(rmean) is not the IJ SE there.
suppressPackageStartupMessages(library(survival))
out <- file.path("tests", "data", "r")

rows <- list()
for (name in c("ties", "trunc", "trunc_weights", "weights", "to_zero")) {
  d <- read.csv(file.path(out, sprintf("km_%s_data.csv", name)))
  d$row <- seq_len(nrow(d))
  fit <- survfit(Surv(entry, time, status) ~ 1, data = d, weights = weight, cluster = cluster,
                 influence = TRUE)
  ms <- survfit(Surv(entry, time, factor(status)) ~ 1, data = d, weights = weight, id = row,
                influence = TRUE)
  unweighted <- all(d$weight == 1)
  for (tau in c(4.5, 8, max(d$time))) {
    keep <- fit$time < tau
    widths <- diff(c(fit$time[keep], tau))
    rmean <- min(fit$time[1], tau) + sum(widths * fit$surv[keep])  # S = 1 before the first time
    infl <- fit$influence.surv[, keep, drop = FALSE]
    se_cluster <- sqrt(sum((infl %*% widths)^2))
    table <- summary(ms, rmean = tau)$table
    rows[[length(rows) + 1]] <- data.frame(
      data = name, tau = tau, rmean = rmean, se_cluster = se_cluster,
      rmean_ms = if (unweighted) table["(s0)", "rmean"] else NA,
      se_ms = if (unweighted) table["(s0)", "se(rmean)"] else NA)
  }
}
write.csv(do.call(rbind, rows), file.path(out, "rmst_reference.csv"), row.names = FALSE)
cat("wrote RMST references to", out, "\n")
