# Reference values for idjourney.indicator.curve: Aalen-Johansen cumulative incidence of
# identification (closure competing), left truncation, tied integer times, case weights,
# cluster-robust (grouped infinitesimal jackknife) standard errors.
# Run from the repository root:  Rscript tests/r/indicator_curve_aj.R
# Input tests/data/r/indicator_curve_input.csv; writes tests/data/r/indicator_curve_aj.csv.
#
# R survival 3.5 ignores cluster= for multi-state curves (the SE equals the id-level one),
# and for a single-state KM with cluster= it reports the IJ SE of the cumulative hazard.
# So the cluster-robust SE is formed here from R's own IJ influence matrix
# (influence = TRUE), weighted and summed within cluster: sqrt(colSums(rowsum(w * D, cluster)^2)),
# which reproduces R's std.err exactly when each row is its own cluster (case "aj_w_id").
# (R's influence.surv of a KM already includes the case weights, influence.pstate does not;
# checked against sqrt(colSums(infl^2)) == std.err on the same fits.)
library(survival)
d <- read.csv("tests/data/r/indicator_curve_input.csv")
d$state <- factor(d$status, levels = 0:2, labels = c("censor", "identified", "closed"))
out <- list()
grouped_se <- function(infl, w, cl) sqrt(colSums(rowsum(infl * w, cl)^2))
for (wt in c(FALSE, TRUE)) {
  w <- if (wt) d$weight else rep(1, nrow(d))
  fit <- survfit(Surv(entry, exit, state) ~ 1, data = d, id = id, weights = w,
                 robust = TRUE, influence = TRUE)
  k <- which(fit$states == "identified")
  infl <- fit$influence.pstate[, -1, k]  # first column is time 0
  case <- if (wt) "aj_w_cluster" else "aj_cluster"
  out[[length(out) + 1]] <- data.frame(case = case, time = fit$time, cif = fit$pstate[, k],
                                       se = grouped_se(infl, w, d$cluster))
  if (wt) {
    out[[length(out) + 1]] <- data.frame(case = "aj_w_id", time = fit$time,
                                         cif = fit$pstate[, k], se = fit$std.err[, k])
  }
  # Kaplan-Meier (closures as censoring), IJ of the survival itself
  km <- survfit(Surv(entry, exit, status == 1) ~ 1, data = d, id = id, weights = w,
                robust = TRUE, influence = TRUE)
  case <- if (wt) "km_w_cluster" else "km_cluster"
  out[[length(out) + 1]] <- data.frame(case = case, time = km$time, cif = 1 - km$surv,
                                       se = grouped_se(km$influence.surv, 1, d$cluster))
}
res <- do.call(rbind, out)
write.csv(res, "tests/data/r/indicator_curve_aj.csv", row.names = FALSE)
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
