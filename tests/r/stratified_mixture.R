# Reference values for idjourney.indicator.stratified: the region-standardised journey curve
# U(t) = sum_r pi_r U_r(t), each U_r = 1 - F_1r the Aalen-Johansen cumulative incidence of
# identification (closure competing) of region r with left truncation and case weights,
# pi_r = N_r / sum_s N_s with N_r = sum over the region's rows of 1 / S_r(entry-) (S_r: the
# probability of still being open, state "(s0)"), and the cluster-robust variance from R's
# own IJ influence: per cluster V_c = sum_r pi_r * (-(rowsum(w * D_r, cluster))), var = sum V_c^2.
# (influence.pstate omits the case weight, so it is multiplied in, as tests/r/indicator_curve_aj.R.)
# Run from the repository root:  Rscript tests/r/stratified_mixture.R
# Writes the simulated input tests/data/r/stratified_input.csv (3 regions, series nested in
# regions, entry depending on the region, whole-day ties, weights >= 1 on some identified
# rows as the delay correction gives them) and tests/data/r/stratified_mixture.csv.
library(survival)
set.seed(20261201)
n_series <- 150
region_of <- sample(c("a", "b", "c"), n_series, replace = TRUE)
size <- sample(1:4, n_series, replace = TRUE)
d <- data.frame(cluster = rep(seq_len(n_series), size), region = rep(region_of, size))
n <- nrow(d)
d$id <- seq_len(n)
rate <- c(a = 1 / 300, b = 1 / 700, c = 1 / 1500)[d$region] * rep(rgamma(n_series, 2, 2), size)
t_id <- ceiling(rexp(n, rate))
t_close <- ceiling(rexp(n, 1 / 4000))
cens <- ceiling(runif(n, 200, 3000))
late <- c(a = 0, b = 200, c = 900)[d$region]
d$entry <- floor(rexp(n) * late) * (runif(n) < 0.6)
d$exit <- pmin(t_id, t_close, cens)
d$status <- ifelse(d$exit == t_id, 1, ifelse(d$exit == t_close, 2, 0))
d <- d[d$exit > d$entry, ]
d$weight <- ifelse(d$status == 1 & runif(nrow(d)) < 0.3, round(1 + runif(nrow(d)), 2), 1)
write.csv(d[, c("id", "cluster", "region", "entry", "exit", "status", "weight")],
          "tests/data/r/stratified_input.csv", row.names = FALSE)

d$state <- factor(d$status, levels = 0:2, labels = c("censor", "identified", "closed"))
times <- c(30, 365, 730, 1500)
tau <- 730
fits <- list()
size_r <- c()
for (r in sort(unique(d$region))) {
  dr <- d[d$region == r, ]
  fit <- survfit(Surv(entry, exit, state) ~ 1, data = dr, id = id, weights = weight,
                 influence = TRUE)
  k <- which(fit$states == "identified")
  s0 <- which(fit$states == "(s0)")
  open_before <- stepfun(fit$time, c(1, fit$pstate[, s0]), right = TRUE)  # S(e-)
  size_r[r] <- sum(1 / open_before(dr$entry))
  # per-cluster influence of F_1(t) at each fit time (first column is time 0)
  g <- rowsum(fit$influence.pstate[, -1, k] * dr$weight, dr$cluster)
  fits[[r]] <- list(time = fit$time, cif = fit$pstate[, k], g = g)
}
pi_r <- size_r / sum(size_r)
at <- function(f, t) { j <- findInterval(t, f$time); if (j == 0) 0 else f$cif[j] }
rows <- list()
for (t in times) {
  u <- 0
  v <- numeric(0)
  for (r in names(fits)) {
    f <- fits[[r]]
    u <- u + pi_r[r] * (1 - at(f, t))
    j <- findInterval(t, f$time)
    gc <- if (j == 0) setNames(rep(0, nrow(f$g)), rownames(f$g)) else f$g[, j]
    contrib <- -pi_r[r] * gc
    keys <- union(names(v), names(contrib))
    v <- setNames(ifelse(is.na(v[keys]), 0, v[keys]) +
                    ifelse(is.na(contrib[keys]), 0, contrib[keys]), keys)
  }
  rows[[length(rows) + 1]] <- data.frame(quantity = "unidentified", time = t, value = u,
                                         se = sqrt(sum(v^2)))
}
rm <- 0
for (r in names(fits)) {
  f <- fits[[r]]
  knots <- c(0, f$time[f$time < tau], tau)
  vals <- c(0, f$cif[f$time < tau])
  rm <- rm + pi_r[r] * sum(diff(knots) * (1 - vals))
}
rows[[length(rows) + 1]] <- data.frame(quantity = "rmst", time = tau, value = rm, se = NA)
grid <- sort(unique(unlist(lapply(fits, function(f) f$time))))
mix <- rep(0, length(grid))
for (r in names(fits)) mix <- mix + pi_r[r] * (1 - sapply(grid, function(t) at(fits[[r]], t)))
rows[[length(rows) + 1]] <- data.frame(quantity = "median", time = NA,
                                       value = grid[which(mix <= 0.5)[1]], se = NA)
for (r in names(fits)) {
  rows[[length(rows) + 1]] <- data.frame(quantity = paste0("share_", r), time = NA,
                                         value = pi_r[[r]], se = NA)
}
write.csv(do.call(rbind, rows), "tests/data/r/stratified_mixture.csv", row.names = FALSE)
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
