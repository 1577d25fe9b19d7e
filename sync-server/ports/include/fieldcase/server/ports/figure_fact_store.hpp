// Figure facts (figures.hpp derives them) and the record reads they are derived from.
// Contract: replace_figure_facts and rebuild_figure_facts are atomic inside the caller's
// transaction; reads outside a transaction see only committed facts.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/figure_facts.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class FigureFactStore {
 public:
  virtual ~FigureFactStore() = default;

  // What figures derive one case's facts from, in one read of its records, fields and claims.
  virtual Result<CaseFigureInputs> case_figure_inputs(std::string_view case_id,
                                                      const FigureInputSelection& select) = 0;
  // The same for every case with records, case by case in case id order, read in a few
  // ordered scans (a recomputation streams through them); `select.records` must be empty.
  // `fn` may write figure facts.
  virtual Status each_case_figure_inputs(const FigureInputSelection& select,
                                         const std::function<Status(CaseFigureInputs&)>& fn) = 0;
  // The facts of one indicator of one case, by record id.
  virtual Result<std::vector<FigureFact>> case_figure_facts(std::string_view case_id,
                                                            std::string_view indicator) = 0;
  // Replaces the case's facts of `indicators` (every indicator when empty) with `facts`,
  // writing only the facts that changed; when `records` is not empty, only the facts of
  // those records (and `indicators` must name the indicators).
  virtual Status replace_figure_facts(std::string_view case_id,
                                      const std::set<std::string, std::less<>>& indicators,
                                      const std::set<std::string, std::less<>>& records,
                                      const std::vector<FigureFact>& facts) = 0;
  // Replaces every fact with those `fill` hands, batch by batch, to the function it is given
  // (a recomputation; call inside a transaction). The facts' index by case is built once at
  // the end rather than kept up to date row by row.
  using FigureFactSink = std::function<Status(const std::vector<FigureFact>&)>;
  virtual Status rebuild_figure_facts(const std::function<Status(const FigureFactSink&)>& fill) = 0;
  // The facts of one indicator (every fact when empty), by indicator then record id.
  virtual Result<std::vector<FigureFact>> figure_facts(std::string_view indicator) = 0;
  // The same, each with the worker its case is allocated to now and that worker's team and
  // area (empty when unallocated), read in one pass (figures attribute by these).
  virtual Result<std::vector<AttributedFact>> attributed_figure_facts(
      std::string_view indicator) = 0;
  // Every indicator's facts of one case, attributed likewise, by indicator then record id.
  virtual Result<std::vector<AttributedFact>> attributed_case_figure_facts(
      std::string_view case_id) = 0;
  virtual Status clear_figure_facts() = 0;
};

}  // namespace fieldcase::server
