# Reference values for the cluster-robust Kaplan-Meier (tests/test_robust_r.py).
#
# Run from the repository root:  Rscript tests/r/robust_km.R   (or: make r-references)
# Needs R with the survival package (Debian: apt-get install -y r-base-core r-cran-survival).
# Generated with R 4.2.2, survival 3.5.3.
#
# Each data set is simulated here with a fixed seed and written to
# tests/data/r/km_<name>_data.csv; survfit(Surv(entry, time, status) ~ 1,
# weights=, cluster=) results go to tests/data/r/km_<name>_curve.csv (one row
# per time and conf.type) and km_<name>_median.csv.
suppressPackageStartupMessages(library(survival))
out <- file.path("tests", "data", "r")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

simulate <- function(seed, n, n_cluster, truncated, weighted, max_day = 15) {
  set.seed(seed)
  cluster <- sample(sprintf("S%02d", seq_len(n_cluster)), n, replace = TRUE)
  # a shared cluster effect makes times within a series correlated
  frailty <- rgamma(n_cluster, 2, 2)[match(cluster, sprintf("S%02d", seq_len(n_cluster)))]
  time <- pmin(max_day, 1 + floor(rexp(n, 0.15 * frailty)))  # tied integer days
  status <- rbinom(n, 1, 0.75)
  entry <- rep(0, n)
  if (truncated) {
    late <- runif(n) < 0.5
    entry[late] <- floor(runif(sum(late)) * time[late])  # 0 <= entry < time
  }
  weight <- if (weighted) round(runif(n, 0.5, 2.5), 3) else rep(1, n)
  data.frame(time = time, status = status, entry = entry, weight = weight, cluster = cluster)
}

write_reference <- function(name, d) {
  write.csv(d, file.path(out, sprintf("km_%s_data.csv", name)), row.names = FALSE)
  curves <- list()
  medians <- list()
  for (ct in c("log", "log-log", "plain")) {
    fit <- survfit(Surv(entry, time, status) ~ 1, data = d, weights = weight,
                   cluster = cluster, conf.type = ct)
    curves[[ct]] <- data.frame(conf_type = ct, time = fit$time, n_risk = fit$n.risk,
                               n_event = fit$n.event, surv = fit$surv, std_err = fit$std.err,
                               lower = fit$lower, upper = fit$upper)
    q <- quantile(fit, probs = 0.5, conf.int = TRUE)
    medians[[ct]] <- data.frame(conf_type = ct, median = as.numeric(q$quantile),
                                lower = as.numeric(q$lower), upper = as.numeric(q$upper))
  }
  # every row its own cluster: R's robust variance with id = row
  fit1 <- survfit(Surv(entry, time, status) ~ 1, data = d, weights = weight,
                  id = seq_len(nrow(d)), robust = TRUE)
  curves[["singletons"]] <- data.frame(conf_type = "singletons", time = fit1$time,
                                       n_risk = fit1$n.risk, n_event = fit1$n.event,
                                       surv = fit1$surv, std_err = fit1$std.err,
                                       lower = fit1$lower, upper = fit1$upper)
  write.csv(do.call(rbind, curves), file.path(out, sprintf("km_%s_curve.csv", name)),
            row.names = FALSE)
  write.csv(do.call(rbind, medians), file.path(out, sprintf("km_%s_median.csv", name)),
            row.names = FALSE)
}

write_reference("ties", simulate(11, 80, 12, truncated = FALSE, weighted = FALSE))
write_reference("trunc", simulate(12, 90, 15, truncated = TRUE, weighted = FALSE))
write_reference("trunc_weights", simulate(13, 100, 14, truncated = TRUE, weighted = TRUE))
write_reference("weights", simulate(14, 70, 9, truncated = FALSE, weighted = TRUE))
# ends at S = 0: the longest follow-up is an event for everyone still at risk
d <- simulate(15, 60, 8, truncated = TRUE, weighted = TRUE)
d$status[d$time == max(d$time)] <- 1
write_reference("to_zero", d)
cat("wrote KM references to", out, "\n")
