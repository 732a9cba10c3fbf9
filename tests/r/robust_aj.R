# Reference values for the robust Aalen-Johansen cumulative incidence (tests/test_robust_r.py).
#
# Run from the repository root:  Rscript tests/r/robust_aj.R   (or: make r-references)
# Needs R with the survival package (Debian: apt-get install -y r-base-core r-cran-survival).
# Generated with R 4.2.2, survival 3.5.3.
#
# survfit(Surv(entry, time, factor(status)) ~ 1, weights=, id=row, influence=TRUE) is R's
# multi-state (Aalen-Johansen) fit.  Its std.err is the infinitesimal-jackknife SE with each id
# (here: each row) its own cluster -> column std_err_id.  NOTE: in survival 3.5.3, survfitCI
# computes std.err per *id* and does not use cluster= (checked: the std.err is identical with and
# without cluster=), so the cluster-robust SE is computed here from R's own per-row influence
# summed within cluster with rowsum().  The multi-state fit$influence.pstate is the derivative in
# the case weight *without* the weight (unlike survfitKM's influence.surv), and R's own std.err is
# sqrt(colSums((weight * influence)^2)) (checked below), so
# std_err_cluster = sqrt(colSums(rowsum(weight * influence, cluster)^2)).
suppressPackageStartupMessages(library(survival))
out <- file.path("tests", "data", "r")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

simulate <- function(seed, n, n_cluster, truncated, weighted, max_day = 15) {
  set.seed(seed)
  labels <- sprintf("S%02d", seq_len(n_cluster))
  cluster <- sample(labels, n, replace = TRUE)
  frailty <- rgamma(n_cluster, 2, 2)[match(cluster, labels)]
  time <- pmin(max_day, 1 + floor(rexp(n, 0.15 * frailty)))  # tied integer days
  status <- sample(0:2, n, replace = TRUE, prob = c(0.25, 0.5, 0.25))  # 1 identified, 2 closed
  entry <- rep(0, n)
  if (truncated) {
    late <- runif(n) < 0.5
    entry[late] <- floor(runif(sum(late)) * time[late])
  }
  weight <- if (weighted) round(runif(n, 0.5, 2.5), 3) else rep(1, n)
  data.frame(time = time, status = status, entry = entry, weight = weight, cluster = cluster)
}

write_reference <- function(name, d) {
  write.csv(d, file.path(out, sprintf("aj_%s_data.csv", name)), row.names = FALSE)
  d$row <- seq_len(nrow(d))
  fit <- survfit(Surv(entry, time, factor(status)) ~ 1, data = d, weights = weight, id = row,
                 influence = TRUE)
  with_cluster <- survfit(Surv(entry, time, factor(status)) ~ 1, data = d, weights = weight,
                          id = row, cluster = cluster)
  stopifnot(isTRUE(all.equal(fit$std.err, with_cluster$std.err)))  # cluster= not used (3.5.3)
  parts <- list()
  for (j in seq_along(fit$states)) {
    infl <- d$weight * fit$influence.pstate[, -1, j]  # drop the time-0 column
    stopifnot(isTRUE(all.equal(sqrt(colSums(infl^2)), fit$std.err[, j])))
    by_cluster <- rowsum(infl, d$cluster)
    parts[[j]] <- data.frame(time = fit$time, state = fit$states[j], pstate = fit$pstate[, j],
                             std_err_id = fit$std.err[, j],
                             std_err_cluster = sqrt(colSums(by_cluster^2)))
  }
  write.csv(do.call(rbind, parts), file.path(out, sprintf("aj_%s_curve.csv", name)),
            row.names = FALSE)
}

write_reference("ties", simulate(21, 80, 10, truncated = FALSE, weighted = FALSE))
write_reference("trunc_weights", simulate(22, 110, 14, truncated = TRUE, weighted = TRUE))
write_reference("weights", simulate(23, 70, 9, truncated = FALSE, weighted = TRUE))
cat("wrote Aalen-Johansen references to", out, "\n")
